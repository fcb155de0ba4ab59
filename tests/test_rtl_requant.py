"""The multiplier-style activation (mbdsl_requant) in a matrix-vector unit: random stalls
on both sides, several frames back to back, compared beat for beat with
``semantics.requantize`` (bench and case generator: ``tb_requant.py``)."""


import numpy as np
import pytest

from harness import SIM_ROOT, simulate
from mbdsl.backends.rtl import pack, resources
from mbdsl.backends.rtl import verilator as vl
from mbdsl.backends.rtl.sources import hdl_sources
from mbdsl.backends.rtl.synth import cell_resources
from mbdsl.dtypes import IntType

_U8 = dict(IN_BITS=8, IN_SIGNED=0)
REQUANT = [
    # conv0-like: 3x3 s2 on 3 channels, uint8 in, int8 weights, one m0, 7-bit codes
    (dict(I=3, K=3, IMG=7, STRIDE=2, PAD=0, MH=8, PE=4, SIMD=3, **_U8, W_BITS=8, OUT_BITS=7),
     dict(frames=2, p_valid=0.8, p_ready=0.8)),
    # pointwise, one m0 per channel, signed int8 codes (the clip at both ends)
    (dict(I=8, K=1, IMG=4, STRIDE=1, PAD=0, MH=8, PE=2, SIMD=4, **_U8, W_BITS=8, OUT_BITS=8,
          OUT_SIGNED=1, PER_CHANNEL=1), dict(frames=2, p_valid=0.5, p_ready=0.9)),
]


@pytest.mark.verilator
@pytest.mark.parametrize("p,opts", REQUANT, ids=["one_m0", "per_channel"])
def test_requant(p, opts):
    opts = dict(opts)
    case, res = simulate("requant", p, seed=5, **opts)
    assert res["errors"] == [], "\n".join(res["errors"])
    assert res["failed"] == 0
    assert len(res["out_cycles"]) == len(case["out"])
    # the codes must reach both ends of the type, else the clip is not exercised
    out = IntType(p["OUT_BITS"], bool(p.get("OUT_SIGNED", 0)))
    assert (case["codes"].min(), case["codes"].max()) == (out.min, out.max)
    assert len(case["codes"]) >= case["levels"] // 4


# ------------------------------------------------------------------ lint and synthesis
# the requantization stages of the int8 networks: conv0 of mobilenet_v1_int8_w0.25_32
# (ACC 22, bias 18, m0 11 bits, shift 20), a pointwise layer folded to 4 lanes, the pool
_CONV0 = dict(ACC_BITS=22, BIAS_BITS=18, M0_BITS=11, PROD_BITS=32, SHIFT=20, OUT_BITS=7, OUT_MIN=0)
LINT = {
    "mbdsl_requant": [dict(PE=1, NG=8, **_CONV0), dict(PE=4, NG=2, ACC_BITS=12, BIAS_BITS=1, M0_BITS=1,
                                                        PROD_BITS=14, SHIFT=0, OUT_BITS=8, OUT_MIN=-128)],
    "mbdsl_mvau": [dict(MH=8, MW=27, PE=2, SIMD=3, IN_BITS=8, W_BITS=8, ACC_BITS=22, N_THRES=0, OUT_BITS=7,
                        REQUANT=1, RQ_BIAS_BITS=18, RQ_M0_BITS=11, RQ_PROD_BITS=32, RQ_SHIFT=20)],
    "mbdsl_vvau": [dict(C=8, K2=9, PE=8, SIMD=3, IN_BITS=7, W_BITS=8, ACC_BITS=20, N_THRES=0, OUT_BITS=7,
                        REQUANT=1, RQ_BIAS_BITS=16, RQ_M0_BITS=13, RQ_PROD_BITS=32, RQ_SHIFT=20)],
    "mbdsl_pool": [dict(C=256, PE=4, N_PIX=4, IN_BITS=7, SUM_BITS=9, SHIFT=30, OUT_BITS=7, REQUANT=1,
                        M0_BITS=25, PROD_BITS=34)],
}


@pytest.mark.verilator
@pytest.mark.parametrize("top,p", [pytest.param(t, p, id=f"{t}-{n}") for t, ps in LINT.items() for n, p in enumerate(ps)])
def test_lint(top, p):
    ok, out = vl.lint(hdl_sources(top), top, p)
    assert ok, out


@pytest.mark.yosys
def test_one_requant_stage_synthesizes_without_latches():
    """yosys synth_xilinx -nodsp of conv0's requantization stage (one lane): LUTs and FFs
    printed for docs/results.md; no latches."""
    p = dict(PE=1, NG=8, **_CONV0)
    d = SIM_ROOT / "yosys" / "mbdsl_requant"
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    bias, m0 = rng.integers(-(1 << 17), 1 << 17, 8), rng.integers(1 << 10, 1 << 11, 8)
    (d / "rq.hex").write_text(pack.memh(pack.requant_words(bias, m0, 8, 1, 18, 11), 29))
    from test_rtl_lint_synth import synth  # the unit syntheses' runner: cached, refuses latches

    cells = synth("mbdsl_requant", p | {"RQ_FILE": "rq.hex"})
    used = cell_resources(cells)
    model = resources.requant_resources(1, 8, 22, 18, 11, 32, 20, 7)
    print(f"mbdsl_requant conv0 stage: {used}, model {model}, cells {cells}")
    # the resource model's cost of the stage (an estimate) within 25% of the synthesis
    assert abs(model.lut - used.lut) <= 0.25 * used.lut, (model, used)
    assert abs(model.ff - used.ff) <= 0.25 * used.ff, (model, used)


POOL = [
    # the int8 networks' pool: 7-bit codes in, a large m0 (the calibration's 1 / (H*W))
    (dict(C=8, PE=2, H=3, W=3, IN_BITS=7, OUT_BITS=7), dict(frames=3, p_valid=0.8, p_ready=0.6)),
    # three channel groups (the RAM path); m0 / 2**shift = 1.6 / (H*W): codes clip at the top
    (dict(C=6, PE=2, H=4, W=2, IN_BITS=4, OUT_BITS=4, SCALE=1.6), dict(frames=3, p_valid=0.6, p_ready=0.8)),
]


@pytest.mark.verilator
@pytest.mark.parametrize("p,opts", POOL, ids=["int8_pool", "clipped"])
def test_pool_requant(p, opts):
    opts = dict(opts)
    case, res = simulate("pool_requant", p, seed=3, **opts)
    assert res["errors"] == [], "\n".join(res["errors"])
    assert res["failed"] == 0
    assert len(res["out_cycles"]) == len(case["out"])
    assert len(case["codes"]) >= 4
    if p.get("SCALE", 1.0) > 1:
        assert case["codes"].max() == (1 << p["OUT_BITS"]) - 1


@pytest.mark.verilator
@pytest.mark.parametrize("unit,p,opts", [("requant", *REQUANT[0]), ("pool_requant", *POOL[0])], ids=["mvau", "pool"])
def test_a_wrong_expected_code_fails_the_bench(unit, p, opts):
    """The benches above can fail: one flipped bit in one expected beat is reported there."""
    opts = dict(opts)

    def flip(beats):
        beats[len(beats) // 2] ^= 1
        return beats

    case, res = simulate(unit, p, seed=5 if unit == "requant" else 3, tamper=flip, **opts)
    assert res["failed"] == 1
    assert len(res["errors"]) == 1, res["errors"]
    assert res["errors"][0].endswith(f"expected {case['out'][len(case['out']) // 2] ^ 1:#x}")


@pytest.mark.parametrize("top,p", [
    ("mbdsl_mvau", dict(MH=8, MW=8, PE=2, SIMD=2, IN_BITS=8, W_BITS=8, ACC_BITS=20, N_THRES=0, OUT_BITS=7,
                        REQUANT=1, RQ_BIAS_BITS=16, RQ_M0_BITS=5, RQ_PROD_BITS=24, RQ_SHIFT=12)),
    ("mbdsl_pool", dict(C=4, PE=2, N_PIX=4, IN_BITS=7, SUM_BITS=9, SHIFT=12, OUT_BITS=7, REQUANT=1, M0_BITS=11,
                        PROD_BITS=22)),
], ids=["mvau", "pool"])
@pytest.mark.yosys
def test_no_combinational_path_crosses_a_requantizing_unit(top, p):
    """As tests/test_rtl_lint_synth.py checks every unit: no input port reaches a stream output
    without a register, with the requantization stage in place."""
    from test_rtl_lint_synth import _combinational_inputs

    d = SIM_ROOT / "cones" / f"{top}_requant"
    d.mkdir(parents=True, exist_ok=True)
    groups = p["MH"] // p["PE"] if top == "mbdsl_mvau" else p["C"] // p["PE"]
    bias_bits, m0_bits = p.get("RQ_BIAS_BITS", 1), p.get("RQ_M0_BITS", p.get("M0_BITS"))
    rng = np.random.default_rng(0)
    ch = groups * p["PE"]
    bias = rng.integers(-(1 << (bias_bits - 1)), 1 << (bias_bits - 1), ch) if bias_bits > 1 else 0
    (d / "rq.hex").write_text(pack.memh(pack.requant_words(bias, rng.integers(1, 1 << m0_bits, ch), ch, p["PE"], bias_bits, m0_bits),
                    p["PE"] * (bias_bits + m0_bits)))
    inputs = _combinational_inputs(top, p | {"RQ_FILE": "rq.hex"}, d)
    assert inputs["s_axis_tready"] == [], inputs
    assert inputs["m_axis_tvalid"] == [] and inputs["m_axis_tdata"] == [], inputs
