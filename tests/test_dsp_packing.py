"""Per-layer multiplier mapping (``fold(..., mult = lut | dsp | packed)``, issue 15 item 1):
the packing rule proved on every operand pair, the spec setting, the generated top's
parameters, the resource model, yosys synth_xilinx (DSP count exact, LUTs within the
model's documented accuracy), and a whole network with packed layers simulated bit-exact."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mbdsl import spec_writer
from mbdsl.backends.rtl import top
from mbdsl.backends.rtl.mult import (DSP_A_BITS, DSP_B_BITS, MULT_CODES, field_bits, packed_operand_bits, packed_product, packing,
                                     unpack)
from mbdsl.backends.rtl.resources import unit
from mbdsl.backends.rtl.sources import hdl_sources
from mbdsl.backends.rtl.synth import cell_resources, synthesize
from mbdsl.backends.rtl.verilator import lint
from mbdsl.frontend import load_string
from mbdsl.frontend.limits import MAX_BITS
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parents[1]


def _values(bits: int, signed: bool) -> range:
    return range(-(1 << (bits - 1)), 1 << (bits - 1)) if signed else range(1 << bits)


# ------------------------------------------------------------------ the packing rule

@pytest.mark.parametrize("in_bits,in_signed,w_bits", [(4, False, 4), (4, True, 4), (3, True, 2), (2, False, 3), (8, False, 8)])
def test_packed_products_come_out_exact_for_every_operand(in_bits, in_signed, w_bits):
    """Every x and every tuple of weights (sampled for 8 bits): the fields, read with the
    borrow correction, are the products; the operands fit the DSP48E2's 27 x 18 ports."""
    s, n = field_bits(in_bits, in_signed, w_bits), packing(in_bits, in_signed, w_bits)
    assert n >= 2
    xs, ws = _values(in_bits, in_signed), _values(w_bits, True)
    if w_bits <= 4:
        tuples = list(itertools.product(ws, repeat=min(n, 3)))
    else:
        rng = np.random.default_rng(1)
        extremes = [ws[0], ws[-1], 0]
        tuples = [tuple(t) for t in itertools.product(extremes, repeat=n)] + [tuple(rng.choice(ws, n)) for _ in range(300)]
    width = packed_operand_bits(len(tuples[0]), in_bits, in_signed, w_bits)
    assert width <= DSP_A_BITS and in_bits + (0 if in_signed else 1) <= DSP_B_BITS
    for t in tuples:
        a = packed_product(1, list(t), s)
        assert -(1 << (width - 1)) <= a < 1 << (width - 1), (t, width)
        for x in xs:
            assert unpack(packed_product(x, list(t), s), len(t), s) == [x * w for w in t], (x, t)


def test_without_the_borrow_correction_the_fields_are_wrong():
    """The correction matters: reading the fields alone gets a product after a negative one wrong."""
    s = field_bits(4, False, 4)
    p = packed_product(15, [-8, 7, 7], s)
    raw = [((p >> (k * s)) & 0xFF) - (0x100 if (p >> (k * s)) & 0x80 else 0) for k in range(3)]
    assert raw != [15 * -8, 15 * 7, 15 * 7]
    assert unpack(p, 3, s) == [15 * -8, 15 * 7, 15 * 7]


def test_packing_factors():
    """The figures the docs quote: 3 products of 4 x 4 bits per DSP48E2, 2 of 8 x 8."""
    assert packing(4, False, 4) == packing(4, True, 4) == 3
    assert packing(8, False, 8) == 2
    assert packed_operand_bits(3, 4, False, 4) == 2 * 8 + 4 + 1


# ------------------------------------------------------------------ the spec setting

SPEC = """
network packed_net {
  input 16x16x3 u8
  defaults { weights int4; activations uint4 }
  conv    conv0 3x3 stride 2 pad 1 -> 8    weights int8   fold(pe = 8, simd = 3, mult = packed)
  dwsep   b1  stride 1 -> 16     fold(dw_pe = 8, dw_mult = dsp, pe = 8, simd = 8, mult = packed)
  dwsep   b2  stride 2 -> 16     fold(dw_pe = 4, dw_mult = lut, pe = 8, simd = 8, mult = packed)
  pwconv  b3 -> 16               fold(pe = 4, simd = 8, mult = lut)
  pwconv  b4 -> 16               fold(pe = 4, simd = 8, mult = dsp)
  avgpool pool global
  fc      fc -> 10               fold(pe = 5, simd = 8, mult = packed)
  topk    top1 1
}
"""


def test_the_spec_sets_each_layer_and_the_writer_keeps_it():
    net = check(load_string(SPEC))
    got = {l.name: l.fold.mult for l in net.layers if hasattr(l, "fold")}
    assert got == {"conv0": "packed", "b1.dw": "dsp", "b1.pw": "packed", "b2.dw": "lut", "b2.pw": "packed", "b3": "lut", "b4": "dsp",
                   "pool": None, "fc": "packed"}
    again = check(load_string(spec_writer.write_spec(net)))
    assert [l.fold for l in again.layers if hasattr(l, "fold")] == [l.fold for l in net.layers if hasattr(l, "fold")]


def test_a_default_packed_goes_to_every_mac_unit():
    """The depthwise one too (lane pairs, docs/rtl.md): 4-bit pixels x int4 weights pack."""
    net = check(load_string("""
network t {
  input 16x16x3 u8
  defaults { weights int4; activations uint4; fold(pe = 2, mult = packed) }
  conv    c0 3x3 stride 2 pad 1 -> 8    weights int8
  dwconv  d1 3x3 pad 1
  pwconv  p1 -> 8
}
"""))
    assert [(l.name, l.fold.mult) for l in net.layers] == [("c0", "packed"), ("d1", "packed"), ("p1", "packed")]


def test_the_top_passes_mult_and_pack_only_where_the_layer_says():
    net = check(load_string(SPEC))
    units = {s.layer: dict(s.params) for s in top.plan(net)[1] if s.module in ("mbdsl_mvau", "mbdsl_vvau")}
    assert units["conv0"]["MULT"] == MULT_CODES["packed"] and units["conv0"]["PACK"] == 2  # 8-bit pixels x int8
    assert units["b1.pw"]["PACK"] == 3 and units["b1.dw"]["MULT"] == MULT_CODES["dsp"] and "PACK" not in units["b1.dw"]
    assert units["b3"]["MULT"] == MULT_CODES["lut"] and units["b4"]["MULT"] == MULT_CODES["dsp"]
    plain = check(load_string(SPEC.replace(", mult = packed", "").replace(", mult = lut", "").replace(", mult = dsp", "")
                              .replace(", dw_mult = dsp", "").replace(", dw_mult = lut", "")))
    assert not any("MULT" in dict(s.params) for s in top.plan(plain)[1])


def test_every_operand_width_the_language_allows_packs_into_one_dsp():
    """So no layer is refused: up to MAX_BITS x MAX_BITS, signed or not, a product fits one
    DSP48E2 and at least two pack into one."""
    for in_bits, in_signed, w_bits in itertools.product(range(1, MAX_BITS + 1), (False, True), range(2, MAX_BITS + 1)):
        n = packing(in_bits, in_signed, w_bits)
        assert n >= 2 and packed_operand_bits(n, in_bits, in_signed, w_bits) <= DSP_A_BITS
        assert in_bits + (0 if in_signed else 1) <= DSP_B_BITS


@pytest.mark.parametrize("mult", sorted(MULT_CODES))
@pytest.mark.parametrize("widths", [dict(IN_BITS=4, IN_SIGNED=0, W_BITS=4), dict(IN_BITS=4, IN_SIGNED=1, W_BITS=4),
                                    dict(IN_BITS=8, IN_SIGNED=0, W_BITS=8), dict(IN_BITS=1, IN_SIGNED=1, W_BITS=2),
                                    dict(IN_BITS=5, IN_SIGNED=1, W_BITS=7)], ids=["u4x4", "s4x4", "u8x8", "s1x2", "s5x7"])
@pytest.mark.verilator
def test_every_choice_is_lint_clean(mult, widths):
    """verilator --lint-only -Wall on the units with each MULT (PE 4: packs of 3 and 1 at 4 x 4 bits)."""
    code = MULT_CODES[mult]
    packs = {"PACK": min(4, packing(widths["IN_BITS"], bool(widths["IN_SIGNED"]), widths["W_BITS"]))} if mult == "packed" else {}
    ok, out = lint(hdl_sources("mbdsl_mvau"), "mbdsl_mvau", dict(MH=8, MW=8, PE=4, SIMD=2, MULT=code, **packs, **widths))
    assert ok, out
    if mult != "packed":
        ok, out = lint(hdl_sources("mbdsl_vvau"), "mbdsl_vvau", dict(C=8, K2=9, PE=4, SIMD=3, MULT=code, **widths))
        assert ok, out


# ------------------------------------------------------------------ the resource model

def _mvau(pe, simd, in_bits=4, in_signed=0, w_bits=4, **extra):
    return {"MH": 4 * pe, "MW": 4 * simd, "PE": pe, "SIMD": simd, "IN_BITS": in_bits, "IN_SIGNED": in_signed, "W_BITS": w_bits,
            "W_SIGNED": 1, "ACC_BITS": 14, "N_THRES": 15, "OUT_BITS": 4, "OUT_MIN": 0, **extra}


def test_the_model_counts_dsps_per_choice_under_every_policy():
    for policy in ("lut", "auto", "yosys"):
        assert unit("mbdsl_mvau", _mvau(8, 4, MULT=MULT_CODES["lut"]), policy).dsp == 0
        assert unit("mbdsl_mvau", _mvau(8, 4, MULT=MULT_CODES["dsp"]), policy).dsp == 32
        assert unit("mbdsl_mvau", _mvau(8, 4, MULT=MULT_CODES["packed"], PACK=3), policy).dsp == 4 * 3  # 3 + 3 + 2 lanes
        assert unit("mbdsl_mvau", _mvau(4, 4, MULT=MULT_CODES["packed"], PACK=3), policy).dsp == 4 * 2  # 3 + 1: 9-bit lone product
        assert unit("mbdsl_mvau", _mvau(4, 4, in_signed=1, MULT=MULT_CODES["packed"], PACK=3), policy).dsp == 4 * 1  # 8 bits: LUTs
    # no choice: the policy decides, as before
    assert unit("mbdsl_mvau", _mvau(8, 4), "lut").dsp == 0 and unit("mbdsl_mvau", _mvau(8, 4), "yosys").dsp == 32


# (parameters, the tolerance docs/resources.md gives for LUTs)
SYNTH = [
    ("mbdsl_mvau", _mvau(4, 4, MULT=MULT_CODES["packed"], PACK=3)),
    ("mbdsl_mvau", _mvau(4, 4, in_signed=1, MULT=MULT_CODES["packed"], PACK=3)),  # the lone signed 4 x 4 lane stays in LUTs
    ("mbdsl_mvau", _mvau(4, 4, in_signed=1, MULT=MULT_CODES["lut"])),
    ("mbdsl_vvau", {"C": 8, "K2": 9, "PE": 2, "SIMD": 3, "IN_BITS": 4, "IN_SIGNED": 0, "W_BITS": 4, "W_SIGNED": 1, "ACC_BITS": 12,
                    "N_THRES": 15, "OUT_BITS": 4, "OUT_MIN": 0, "MULT": MULT_CODES["dsp"]}),
]


@pytest.mark.yosys
@pytest.mark.parametrize("module,params", SYNTH, ids=["mvau-packed", "mvau-packed-signed", "mvau-lut", "vvau-dsp"])
def test_the_model_against_yosys(module, params):
    """synth_xilinx with DSP mapping allowed: every choice holds in synthesis (a LUT layer
    gets no DSP slice even so); DSPs exact, LUTs within the model's +-25%."""
    got = cell_resources(synthesize(module, params, False, ROOT / "build" / "resources" / "synth_cache.json"))
    est = unit(module, params, "yosys")
    assert got.dsp == est.dsp
    assert abs(est.lut - got.lut) <= 0.25 * got.lut, (est.lut, got.lut)


# ------------------------------------------------------------------ a whole network

@pytest.mark.verilator
def test_a_network_with_packed_layers_simulates_bit_exact(tmp_path):
    spec = tmp_path / "packed_net.mbn"
    spec.write_text(SPEC)
    out = subprocess.run([sys.executable, "-m", "mbdsl", "sim", str(spec), "--images", "2", "--stall", "0.2",
                          "-o", str(tmp_path / "gen"), "--build-dir", str(ROOT / "build" / "test_dsp_packing")],
                         capture_output=True, text=True, timeout=3600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "bit-exact on 2 images" in out.stdout
    generated = (tmp_path / "gen" / "packed_net" / "rtl" / "packed_net_top.sv").read_text()
    assert len(re.findall(r"\.MULT\(3\)", generated)) == 4 and ".PACK(2)" in generated
