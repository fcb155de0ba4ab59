"""FPGA resources (LUT, FF, BRAM18, DSP, URAM288) of the generated RTL's units.

The model follows the structure of the units in ``backends/rtl/hdl`` and of what
``yosys synth_xilinx -family xcup`` makes of them; ``bench/resources.py`` checks it against
synthesis (``docs/resources.md`` has the formulas and the validation table). Memories are
mapped as yosys maps them (:mod:`.memories`); :mod:`.cost` sums units into layers and networks.

Multipliers are LUTs (``dsp="lut"``, as ``-nodsp``), DSP slices whenever yosys would map
them (``dsp="yosys"``), or DSP slices for operands wider than 4 bits only (``dsp="auto"``,
the convention of FINN's estimates: LUTs for low-bit MACs, DSPs for the 8-bit first layer).
A unit whose layer chose its multipliers (``MULT``, :mod:`.mult`) follows that choice
under every policy.
"""

from __future__ import annotations

import math

import attrs

from ...dataflow import Window
from .memories import RAM, RAM_ASYNC, ROM, WMEM_CODES, Memory, memory, rom_blend, rom_logic, uram288
from .mult import MULT_CODES, field_bits, pair_units

__all__ = [
    "Resources", "DSP_POLICIES", "unit", "unit_parts", "lut_features", "mac_features", "K_MAC", "K_UNIT",
    "tree_levels", "tree_ff", "tree_terms", "digit_products", "mac_latency", "requant_latency", "requant_resources", "requant_terms",
]

DSP_POLICIES = ("lut", "auto", "yosys")


@attrs.frozen
class Resources:
    """Xilinx UltraScale+ resources: LUTs (logic and LUT RAM), flip-flops, 18 Kb block RAMs, DSP
    slices, 288 Kb UltraRAMs."""

    lut: float = 0
    ff: float = 0
    bram18: int = 0
    dsp: int = 0
    uram: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(self.lut + other.lut, self.ff + other.ff, self.bram18 + other.bram18, self.dsp + other.dsp,
                         self.uram + other.uram)

    def __radd__(self, other):
        return self if other == 0 else self.__add__(other)

    def rounded(self) -> "Resources":
        return Resources(round(self.lut), round(self.ff), self.bram18, self.dsp, self.uram)


# --------------------------------------------------------------------------------------
# Units
# --------------------------------------------------------------------------------------

# LUT coefficients of the MAC units: the multiplier measured on isolated blocks, DSP offset
# and packing on their own syntheses (bench/dsp_packing.py), the rest fitted by non-negative
# least squares to yosys 0.70 synth_xilinx -family xcup -nodsp of 17 MAC units with random
# ROMs and the 28 MAC stages of the small spec with its own ROMs (bench/resources.py --fit
# --stages specs/mobilenet_v1_w0.25_32.mbn); see docs/resources.md. Since the ROM addresses
# come from registers, yosys keeps a deep ROM's data register and builds the ROM once.
K_MAC = {
    "mul_var": 1.135,    # per (IN*W)**1.1 of a lane whose weight varies (measured: 4x4 bit 24 LUTs, 8x8 110)
    "mul_const": 0.534,  # ... of a lane whose weight takes few values (shallow weight ROM)
    "wrom": 1.409,       # per weight-bit use, weight ROM in logic, shallow regime (rom_blend)
    "wrom_deep": 1.351,  # per weight bit x the ROM's LUTs per bit, deep regime (the ROM built once)
    "tree": 0.251,       # per adder-tree bit (registered per level; the rest absorbed by "acc")
    "acc": 2.986,         # per accumulator bit (accumulator, threshold stage and popcount per PE)
    "cmp_var": 0.687,    # per threshold-comparator bit, thresholds from a deep ROM or block RAM
    "cmp_const": 0.307,  # ... thresholds taking few values
    "trom": 1.258,       # per threshold bit, threshold ROM in logic, shallow regime (rom_blend)
    "trom_deep": 0.768,  # ... deep regime, x the ROM's LUTs per bit
    "pop": 0.0,          # per threshold (absorbed by "acc")
    "dsp_lane": 0.0,     # per lane whose multiplier is a DSP slice (the DSP absorbs its LUTs)
    "dsp_offset": 1.0,   # per product bit of a DSP lane (mult = dsp) with signed activations: the offset's correction (1 synthesis)
    "pack": 0.79,        # per bit of a packed product's field beyond a multiply's first (mult = packed; mean of 3 syntheses)
    "const": 56.031,     # control
}



def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _uses_dsp(in_bits: int, w_bits: int, dsp: str) -> bool:
    if dsp == "lut":
        return False
    if dsp == "auto":
        return max(in_bits, w_bits) > 4
    return in_bits + w_bits + 2 >= 9  # yosys mul2dsp: product of at least 9 bits


def _lone_lanes(p: dict, shared_x: bool) -> tuple[int, bool]:
    """mult = packed: the lanes left alone in a multiply (an MVAU's per SIMD lane: the last
    of PE lanes in multiplies of PACK, or all if PACK is 1; a VVAU's: its last lane if PE and
    SIMD are odd), and whether yosys maps such a lone product to a DSP slice (9 or more
    significant bits: not a signed 4 x 4-bit one)."""
    mapped = p["W_BITS"] + p["IN_BITS"] + (0 if p["IN_SIGNED"] else 1) >= 9
    if not shared_x:
        return pair_units(p["PE"], p["SIMD"])[2], mapped
    pe, n = p["PE"], p["PACK"]
    return (pe if n == 1 else int(pe % n == 1)), mapped


def _products(p: dict, dsp: str, shared_x: bool) -> tuple[str, int]:
    """How a MAC unit's products are built, "lut", "dsp" or "packed" (its MULT, else the
    policy), and its DSP slices: one per lane, or per packed multiply (of PACK PE lanes in
    an MVAU, of a lane pair in a VVAU)."""
    code = p.get("MULT", 0)
    if code == MULT_CODES["packed"]:
        lone, mapped = _lone_lanes(p, shared_x)
        if not shared_x:
            return "packed", sum(pair_units(p["PE"], p["SIMD"])) - (0 if mapped else lone)
        return "packed", p["SIMD"] * (-(-p["PE"] // p["PACK"]) - (0 if mapped else lone))
    if code == MULT_CODES["dsp"] or (code == 0 and _uses_dsp(p["IN_BITS"], p["W_BITS"], dsp)):
        return "dsp", p["PE"] * p["SIMD"]
    return "lut", 0


def tree_terms(p: dict, shared_x: bool) -> int:
    """Terms of a MAC unit's adder tree per PE lane (mbdsl_mac_core's NT): its lanes' digit
    products, or a packed VVAU's dot product per lane pair and its odd last lane's product."""
    if p.get("MULT") == MULT_CODES["packed"] and not shared_x:
        return -(-p["SIMD"] // 2)
    return p["SIMD"] * digit_products(p["IN_BITS"], p["W_BITS"], p.get("MULT", 0) in (MULT_CODES["dsp"], MULT_CODES["packed"]))


def _packed_field_bits(p: dict) -> int:
    """Field bits beyond the first of every packed multiply: each costs an operand-assembly
    and a borrow-correction bit (``mbdsl_mul_packed``)."""
    s = field_bits(p["IN_BITS"], bool(p["IN_SIGNED"]), p["W_BITS"], bool(p.get("W_SIGNED", 1)))
    pe, n = p["PE"], p["PACK"]
    return p["SIMD"] * (pe - -(-pe // n)) * s


def _variability(depth: int, bits: int, in_bram: bool) -> float:
    """How far a ROM-fed operand is from a constant: log2(words) over its bits, capped at 1."""
    if in_bram:
        return 1.0
    if depth <= 1:
        return 0.0
    return min(1.0, math.log2(depth) / bits)


def weight_memory(p: dict, depth: int) -> Memory:
    """A MAC unit's weight memory: UltraRAM (WMEM 1, style "uram"), none (WMEM 2, "stream":
    the words arrive on a stream), else a ROM as yosys maps it."""
    width = p["PE"] * p["SIMD"] * p["W_BITS"]
    if p.get("WMEM") == WMEM_CODES["uram"]:
        return Memory("uram", uram=uram288(depth, width))
    if _streamed(p):
        return Memory("stream")
    return memory(depth, width, ROM)


WLOAD_LUTS = 10
"""LUTs of an mbdsl_wload: its counters' compares and the ready (yosys synth_xilinx -family
xcup: 9 to 10 for 64- to 256-bit words of 512 to 8,192 words; docs/results.md)."""


def wload_resources(width: int, depth: int) -> Resources:
    """mbdsl_wload: the word register of whole 32-bit beats, the beat and word counters, the
    write address, enable and done, the forwarding register and its valid (FFs as yosys
    counts them), and ``WLOAD_LUTS``."""
    beats, aw = -(-width // 32), _clog2(depth)
    bw = _clog2(beats) if beats > 1 else 1
    return Resources(WLOAD_LUTS, 32 * beats + bw + 2 * aw + 2 + 32 + 1, 0, 0)


def mac_features(p: dict, nf: int, sf: int, dsp: str, shared_x: bool) -> dict[str, float]:
    """The quantities the MAC units' LUTs are linear in (coefficients ``K_MAC``)."""
    pe, simd, ib, wb, acc, nt = p["PE"], p["SIMD"], p["IN_BITS"], p["W_BITS"], p["ACC_BITS"], p["N_THRES"]
    lanes = pe * simd
    wdepth = nf * sf
    wmem = weight_memory(p, wdepth)
    tmem = memory(nf, pe * nt * acc, ROM) if nt else Memory("logic")
    f = dict.fromkeys(K_MAC, 0.0)
    f["const"] = 1.0
    vw = _variability(wdepth, wb, wmem.style != "logic")
    mode = _products(p, dsp, shared_x)[0]
    size = (ib * wb) ** 1.1
    if mode == "packed":
        if shared_x:
            f["pack"] = _packed_field_bits(p)
        # a VVAU's pair multiplies: their operand assembly and borrow correction measured
        # within the noise of the tree terms they save (docs/results.md), no LUT term
        lone, mapped = _lone_lanes(p, shared_x)
        if not mapped:  # lone products left in LUTs
            lone *= simd if shared_x else 1
            f["mul_var"] = lone * size * vw
            f["mul_const"] = lone * size * (1 - vw)
    elif mode == "dsp":
        f["dsp_lane"] = lanes
        if p.get("MULT") == MULT_CODES["dsp"] and p["IN_SIGNED"]:  # x offset to unsigned, w * 2^(IN-1) subtracted
            f["dsp_offset"] = lanes * (ib + wb + 2)
    else:
        f["mul_var"] = lanes * size * vw
        f["mul_const"] = lanes * size * (1 - vw)
    if wmem.style == "logic":  # a shallow ROM merges into the IN+1 partial products reading each weight bit
        shallow, deep = rom_blend(wdepth)
        f["wrom"] = lanes * wb * (ib + 1) * shallow
        f["wrom_deep"] = lanes * wb * deep
    # adder-tree inputs per PE lane as fitted: one per lane (digit products absorbed), one
    # per lane pair in a packed VVAU
    summed = tree_terms(p, shared_x) if mode == "packed" and not shared_x else simd
    f["tree"] = pe * (summed - 1) * acc
    f["acc"] = pe * acc
    if nt:
        vt = _variability(nf, 4, tmem.style == "bram")
        f["cmp_var"] = pe * nt * acc * vt
        f["cmp_const"] = pe * nt * acc * (1 - vt)
        f["pop"] = pe * nt
        if tmem.style == "logic":
            shallow, deep = rom_blend(nf)
            f["trom"] = pe * nt * acc * shallow
            f["trom_deep"] = pe * nt * acc * deep
    return f


STREAM_FIFO_DEPTH = 2
"""Words of a streamed unit's weight FIFO (``mbdsl_mvau_stream``'s ``u_wfifo``)."""


def _streamed(p: dict) -> bool:
    """Whether a MAC unit takes its weights from a stream (``WMEM`` 2) rather than a ROM."""
    return p.get("WMEM") == WMEM_CODES["stream"]


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
    if module in ("mbdsl_mvau", "mbdsl_mvau_stream"):
        nf, sf = p["MH"] // p["PE"], p["MW"] // p["SIMD"]
        fixed = Resources(p["SIMD"] * p["IN_BITS"], 0, 0, 0)  # the fold-0 bypass multiplexer
        if sf > 1:  # the input-vector buffer, replayed for every neuron fold
            width = p["SIMD"] * p["IN_BITS"]
            fixed = fixed + _ram_cost(memory(sf, width, RAM_ASYNC), sf, width, True)
        if _streamed(p):  # the weight stream's two-word FIFO (an estimate: the FIFO model, not fitted here)
            feats, ram = _fifo_features(p["PE"] * p["SIMD"] * p["W_BITS"], STREAM_FIFO_DEPTH)
            fixed = fixed + ram + Resources(sum(K_UNIT["mbdsl_fifo"][k] * v for k, v in feats.items()), 0, 0, 0)
        return mac_features(p, nf, sf, dsp, True), fixed + _mac_fixed(p, nf, sf, True, dsp)
    if module == "mbdsl_vvau":
        nf, sf = p["C"] // p["PE"], p["K2"] // p["SIMD"]
        return mac_features(p, nf, sf, dsp, False), _mac_fixed(p, nf, sf, False, dsp)
    if module == "mbdsl_swg":
        win = Window(p["IFM_H"], p["IFM_W"], p["C"], p["K"], p["STRIDE"], p["PAD"], p["CPAR"], p["KPAR"], bool(p["DW"]), p.get("PIX", 1))
        cf = win.channel_beats
        r = win.ring_rows
        depth = r * win.row_beats
        ew = p["CPAR"] * p["BITS"]
        mw = ew * win.pixels  # a memory word: an input beat of PIX pixels
        oh, ow = win.ofm_h, win.ofm_w
        cb = _clog2(max(p["IFM_H"], p["IFM_W"]) + 2 * p["PAD"] + p["K"] + p["STRIDE"] + r + 1) + 2
        aw = _clog2(depth)
        m = memory(depth, mw, RAM)
        if m.style == "bram":
            mem = Resources(m.mux_luts, 0, m.bram18, 0)
        elif m.style == "lutram":
            mem = Resources(m.lutram_luts + m.mux_luts, mw, 0, 0)
        else:
            mem = Resources(mw * math.ceil((depth - 1) / 3), depth * mw + mw, 0, 0)
        lanes = p["KPAR"]
        kg = win.kernel_groups
        ctl = cb + _clog2(oh) + _clog2(ow) + _clog2(cf) + _clog2(kg)
        feats = {"ctl": ctl, "out": lanes * ew}
        # d, ih0, iw0, lo, hi, lo_q1, lim; window counters; frame and row bases, column base;
        # writer; valid bits; stage B (the issued window)
        ff = 7 * cb + _clog2(oh) + _clog2(ow) + _clog2(cf) + _clog2(kg) + 3 * aw + 2 + aw + _clog2(win.row_beats) + 5
        ff += 2 * cb + 2 * aw + 2 + _clog2(kg)
        # per lane: stages C (pad, slot, column), D (address, pad), E (pad), F (data); the
        # pixel of a word in D and E
        ff += lanes * (3 * aw + 3 + ew + (2 * _clog2(win.pixels) if win.pixels > 1 else 0))
        queue = _credit_queue(lanes * ew, 9)
        # PIX > 1: per output bit, the read word's PIX:1 select and the padding zero, LUT6s
        # of PIX data, log2(PIX) select and one padding input (an estimate)
        select = lanes * ew * math.ceil((win.pixels + _clog2(win.pixels) + 1) / 6) if win.pixels > 1 else 0
        return feats, Resources(mem.lut * lanes + select, ff + mem.ff * lanes, mem.bram18 * lanes, 0) + queue
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


def digit_products(in_bits: int, w_bits: int, whole: bool = False) -> int:
    """Digit products per MAC lane in mbdsl_mac_core (its NPP): 1 up to 4 x 4 bits, and 1 for
    ``whole`` products (MULT dsp or packed: the DSP slice takes the operands whole)."""
    if whole:
        return 1
    return -(-in_bits // MUL_DIGIT) * -(-w_bits // MUL_DIGIT)


def mac_latency(terms: int, n_thres: int, requant: tuple[int, int] | None = None) -> int:
    """Cycles from issue to the credit queue in mbdsl_mac_core (its LATENCY), whose adder
    trees sum ``terms`` per PE lane (``tree_terms``); ``requant``: (m0 bits, shift) of its
    mbdsl_requant activation."""
    act = requant_latency(*requant) if requant else 2 + tree_levels(n_thres)
    return 5 + tree_levels(terms) + act


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
    wmem = weight_memory(p, nf * sf)
    tmem = memory(nf, pe * nt * acc, ROM) if nt else Memory("logic")
    dsps = _products(p, dsp, shared_x)[1]
    xw = (simd if shared_x else lanes) * ib
    terms = tree_terms(p, shared_x)
    # A ROM's word is registered twice (read register, copy). In a block RAM the first is
    # inside it; for a ROM in logic yosys moves the first into the address, and the copy
    # keeps only its distinct columns (``rom_logic``'s registers, added below). A streamed
    # word is registered twice in flip-flops.
    w_copy = {"logic": 0, "stream": 2 * lanes * wb}.get(wmem.style, lanes * wb)
    t_copy = pe * nt * acc if tmem.style == "bram" else 0
    ff = 2 * xw + w_copy + pe * terms * pw  # S1 and S2 input registers, weight copy, S3 products
    ff += pe * tree_ff(terms, pw) + 3 * tree_levels(terms)  # adder trees and their tags
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
    queue = _credit_queue(pe * ob, mac_latency(terms, nt, rq) + 3)
    if rq:
        queue += requant_resources(pe, nf, acc, p["RQ_BIAS_BITS"], p["RQ_M0_BITS"], p["RQ_PROD_BITS"], p["RQ_SHIFT"], ob)
    if wmem.style == "uram":
        queue += wload_resources(lanes * wb, nf * sf)
    return Resources(wmem.mux_luts + tmem.mux_luts, ff, wmem.bram18 + tmem.bram18, dsps, wmem.uram) + queue


def unit(module: str, params: dict, dsp: str = "lut") -> Resources:
    """Resources of one generated unit, from its module name and parameters."""
    return unit_parts(module, params, dsp)[0]


def unit_parts(module: str, params: dict, dsp: str = "lut") -> tuple[Resources, dict]:
    """Resources of a unit and its LUTs by part (feature x coefficient, plus "memory")."""
    if dsp not in DSP_POLICIES:
        raise ValueError(f"dsp policy {dsp!r}: one of {', '.join(DSP_POLICIES)}")
    feats, fixed = lut_features(module, params, dsp)
    k = K_MAC if module in ("mbdsl_mvau", "mbdsl_mvau_stream", "mbdsl_vvau") else K_UNIT[module]
    parts = {name: k[name] * v for name, v in feats.items()}
    parts["memory"] = fixed.lut
    return Resources(sum(parts.values()), fixed.ff, fixed.bram18, fixed.dsp, fixed.uram), parts
