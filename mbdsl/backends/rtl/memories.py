"""Memories of the generated RTL as yosys maps them (``memory_libmap`` for Xilinx UltraScale+).

Each candidate (soft logic, LUT RAM, RAMB18/RAMB36 in every aspect ratio) gets yosys' cost
and the cheapest wins, so block RAM counts are exact, not estimated. ROMs cannot use LUT
RAM (the Xilinx library marks it ``prune_rom``): a ROM is either logic (cost = bits / 64 for
xcup) or block RAM; UltraRAM is off unless ``synth_xilinx -uram``, except for a memory marked
``(* ram_style = "ultra" *)`` (mbdsl_mac_core's run-time weights, :func:`uram288`).
"""

from __future__ import annotations

import math

import attrs

__all__ = ["ROM", "RAM", "RAM_ASYNC", "WMEM_CODES", "Memory", "memory", "uram288", "URAM_DEPTH", "URAM_WIDTH", "rom_blend", "rom_logic"]

ROM, RAM, RAM_ASYNC = "rom", "ram", "ram_async"
"""Memory kinds: a ROM read through a register; a RAM with one write and one registered
read port (window generators); a RAM read asynchronously at a registered address (FIFOs,
input buffers), which yosys turns into a registered read that must see same-cycle writes."""

# (name, address bits, data widths, cost): the Xilinx block RAM library for UltraScale
# (brams_xc4v.txt with HAS_SIZE_36): true dual port and simple dual port, RAMB18 ("HALF")
# and RAMB36 ("FULL"). Address bits count the narrowest width; width i has 2**(abits-i) words.
_BRAMS = (
    (1, 14, (1, 2, 4, 9, 18), 129),
    (2, 15, (1, 2, 4, 9, 18, 36), 257),
    (1, 14, (1, 2, 4, 9, 18, 36), 129),
    (2, 15, (1, 2, 4, 9, 18, 36, 72), 257),
)
# LUT RAMs (lutrams_xcu.txt) usable with one write and one separate read port: the
# dual-, quad-, octal-port and simple-dual-port primitives; (address bits, width, LUTs per cell).
_LUTRAMS = ((5, 8, 4), (6, 4, 4), (7, 2, 4), (8, 1, 4), (5, 4, 4), (6, 2, 4), (5, 2, 4), (6, 1, 4), (5, 14, 8), (6, 7, 8))
_LUTRAM_COST = 16



WMEM_CODES = {"rom": 0, "uram": 1, "stream": 2}
"""The weight memory (``WMEM`` of mbdsl_mac_core) of each place of a MAC unit's weights
(``ir.WEIGHT_PLACES``): a ROM, UltraRAM written at run time, none (a weight stream)."""

@attrs.frozen
class Memory:
    """How one memory is built: ``style`` is "logic", "lutram", "bram" or "uram" ("stream" for
    the weights of a unit that has none: ``fold(weights = stream)``)."""

    style: str
    bram18: int = 0
    uram: int = 0
    lutram_luts: int = 0
    cost: float = 0
    mux_luts: float = 0
    """LUTs of the read multiplexer over the address slices of a deep memory."""


def memory(depth: int, width: int, kind: str = ROM) -> Memory:
    """The mapping yosys chooses for a ``depth`` x ``width`` memory, with its primitives."""
    if depth <= 1 or width <= 0:
        return Memory("logic", cost=0)
    # synth_xilinx -family xcup passes -logic-cost-rom 1/64 (default for RAM: 1 per bit)
    best = Memory("logic", cost=int(depth * width / 64 if kind == ROM else depth * width))
    # emulation score: an unshared read port (1), soft transparency for RAM_ASYNC (3); x2
    emu = 2 * (1 + (3 if kind == RAM_ASYNC else 0))
    for n18, abits, widths, cost in _BRAMS:
        for i, w in enumerate(widths):
            words = 1 << (abits - i)
            mult_a = -(-depth // words)
            # the address slices of a deep memory are packed side by side into the data bits
            # (memory_libmap's swizzle); RAM words are padded to the 9-bit byte
            byte = 1 if kind == ROM else min(9, w)
            repl = -(-(mult_a * -(-width // byte) * byte) // w)
            c = cost * repl + 0.5 * (mult_a - 1) * width + emu
            if kind != ROM and mult_a != 1:
                c += 0.5 * mult_a
            if c < best.cost:
                best = Memory("bram", bram18=n18 * repl, cost=c, mux_luts=width * (mult_a - 1) / 3)
    if kind != ROM:
        for abits, w, luts in _LUTRAMS:
            mult_a = -(-depth // (1 << abits))
            c = _LUTRAM_COST * mult_a * width // w + 0.5 * (mult_a - 1) * width + emu
            if mult_a != 1:
                c += 0.5 * mult_a
            if c < best.cost:
                best = Memory("lutram", lutram_luts=luts * mult_a * -(-width // w), cost=c, mux_luts=width * (mult_a - 1) / 3)
    return best


URAM_DEPTH, URAM_WIDTH = 4096, 72
"""A URAM288's words and their bits (yosys' Xilinx UltraRAM library, ``urams.txt``)."""


def uram288(depth: int, width: int) -> int:
    """URAM288s of a ``depth`` x ``width`` memory marked ``ram_style = "ultra"``: slices of 72
    bits side by side, blocks of 4,096 words cascaded (as yosys maps it, synth_xilinx -family
    xcup)."""
    return -(-width // URAM_WIDTH) * -(-depth // URAM_DEPTH)


def _distinct(depth: int, width: int) -> float:
    """Expected number of distinct columns among ``width`` random columns of ``depth`` bits."""
    if depth >= 24:
        return float(width)
    n = 2.0 ** depth
    return n * (1 - (1 - 1 / n) ** width)


def _rom_luts_per_bit(depth: int) -> float:
    """LUTs per output bit of a ROM built from logic: a 6-input LUT holds 64 words, MUXF7/F8
    combine four of them, deeper ROMs add LUT multiplexers."""
    if depth <= 64:
        return 1.0
    luts = math.ceil(depth / 64)
    return luts + (math.ceil(depth / 256) - 1 if depth > 256 else 0)


def rom_blend(depth: int) -> tuple[float, float]:
    """LUTs per ROM bit and per use when the ROM's logic merges into the logic reading it,
    split into a shallow and a deep regime (each with its own coefficient).

    yosys registers a logic ROM's address, not its data, so every multiplier or comparator
    bit that reads a ROM bit computes it again. Up to 4 words the ROM function fits into the
    reader's LUT (nothing extra); to 16 words it grows with the address bits; from 64 words
    on each use costs the ROM's own LUTs; between 16 and 64 words the two regimes blend
    (linearly in the address bits), so that the cost is continuous in the depth.
    """
    if depth <= 4:
        return 0.0, 0.0
    t = min(1.0, max(0.0, (math.log2(depth) - 4) / 2))
    shallow = (min(math.log2(depth), 4) - 2) / 3
    return shallow * (1 - t), _rom_luts_per_bit(depth) * t


def rom_logic(depth: int, width: int) -> tuple[float, float]:
    """(LUTs, FFs) of a registered ROM of random contents built from logic, alone.

    Every output bit is a function of the address; identical functions (likely when the
    ROM is shallow) are shared, and functions that are a constant or one address bit need
    no LUT.
    """
    if depth <= 1:
        return 0.0, 0.0
    a = max(1, math.ceil(math.log2(depth)))
    distinct = _distinct(depth, width)
    trivial = min(1.0, (2 + 2 * a) / 2.0 ** min(depth, 60))
    return distinct * (1 - trivial) * _rom_luts_per_bit(depth), distinct
