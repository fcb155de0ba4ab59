"""The MVAU with its weights streamed in (``mbdsl_mvau_stream``, WMEM = 2): bit-exact with
random stalls on the input, the weight stream and the output; at the ROM's rate when the
stream keeps up; and a bench that can fail."""

import pytest

import tb_mvau
from harness import simulate
from test_rtl_units import MVAU, _flip_one_bit

pytestmark = [pytest.mark.verilator, pytest.mark.slow]

# a conv (window stream), a pointwise conv, an fc with raw outputs, an fc with bias, signed
# narrow operands, 8-bit weights in a word of 3 x 8 bits and 5-bit weights in 30 bits (not whole bytes)
_CASES = [MVAU[0], MVAU[1], MVAU[2], MVAU[3], MVAU[5],
          dict(I=6, K=1, IMG=1, STRIDE=1, PAD=0, MH=10, PE=2, SIMD=3, IN_BITS=4, IN_SIGNED=0, W_BITS=5, N_THRES=0)]
_STALLS = [dict(p_valid=0.5, p_ready=0.9), dict(p_valid=0.9, p_ready=0.5), dict(p_valid=0.6, p_ready=0.6)]


@pytest.mark.parametrize("n", range(len(_CASES)))
def test_streamed_weights_are_bit_exact_under_stalls(n):
    case, res = simulate("mvau_stream", _CASES[n], seed=11 + n, frames=2, **_STALLS[n % 3])
    assert res["errors"] == [], "\n".join(res["errors"])
    assert res["failed"] == 0
    assert len(res["out_cycles"]) == len(case["out"])


def test_a_stream_that_keeps_up_gives_the_rom_rate():
    """No stalls anywhere: cycles per frame as the ROM unit's, NF*SF per vector."""
    from test_rtl_throughput import MVAU_T, _period
    frames = 3
    case, res = simulate("mvau_stream", MVAU_T, frames=frames, p_valid=1.0, p_ready=1.0)
    assert res["errors"] == []
    period, ends = _period(case, res, frames)
    formula = tb_mvau.expected_cycles(case["params"], case["n_vectors"] // frames)
    assert period == formula, (period, formula, ends)


def test_a_wrong_expected_beat_fails_the_bench():
    case, res = simulate("mvau_stream", _CASES[1], seed=3, frames=2, tamper=_flip_one_bit, p_valid=0.7, p_ready=0.7)
    assert res["failed"] == 1
    assert len(res["errors"]) == 1, res["errors"]
    assert res["errors"][0].endswith(f"expected {case['out'][len(case['out']) // 2] ^ 1:#x}")


@pytest.mark.parametrize("p", [
    dict(MH=8, MW=8, PE=2, SIMD=2, IN_BITS=4, W_BITS=4, ACC_BITS=12, N_THRES=15, OUT_BITS=4),
    dict(MH=10, MW=6, PE=2, SIMD=3, IN_BITS=4, W_BITS=5, ACC_BITS=12, N_THRES=0),   # 30-bit word on a 32-bit stream
    dict(MH=1000, MW=1024, PE=25, SIMD=1, IN_BITS=7, W_BITS=8, ACC_BITS=24, N_THRES=0, HAS_BIAS=1),
], ids=["thresholds", "padded", "fc"])
def test_lint(p):
    from mbdsl.backends.rtl import verilator as vl
    from mbdsl.backends.rtl.sources import hdl_sources
    ok, out = vl.lint(hdl_sources("mbdsl_mvau_stream"), "mbdsl_mvau_stream", p | dict(WMEM=2))
    assert ok, out


_SYNTH = dict(MH=16, MW=36, PE=4, SIMD=6, IN_BITS=4, W_BITS=4, ACC_BITS=12, N_THRES=0, WMEM=2)


@pytest.mark.yosys
def test_yosys_synth_matches_the_resource_model():
    """No weight memory: no block RAM; FFs and LUTs within the model's accuracy (the bounds of
    test_rtl_lint_synth.test_yosys_synth)."""
    from mbdsl.backends.rtl import resources
    from mbdsl.backends.rtl.synth import cell_resources
    from test_rtl_lint_synth import synth
    real, model = cell_resources(synth("mbdsl_mvau_stream", _SYNTH)), resources.unit("mbdsl_mvau_stream", _SYNTH, "lut")
    print(f"yosys {real}, model {model}")
    assert real.bram18 == model.bram18 == 0 and real.dsp == 0
    assert abs(model.ff - real.ff) <= 0.25 * real.ff, (real, model)
    assert abs(model.lut - real.lut) <= 0.25 * real.lut + 25, (real, model)


@pytest.mark.yosys
def test_the_weight_stream_adds_no_combinational_path():
    """s_w_tready is registered (the FIFO's), and no input reaches a stream output unregistered."""
    from harness import SIM_ROOT
    from test_rtl_lint_synth import _combinational_inputs
    p = dict(MH=8, MW=8, PE=2, SIMD=2, IN_BITS=4, W_BITS=4, ACC_BITS=12, N_THRES=0, WMEM=2)
    outputs = ("s_axis_tready", "s_w_tready", "m_axis_tvalid", "m_axis_tdata")
    inputs = _combinational_inputs("mbdsl_mvau_stream", p, SIM_ROOT / "cones" / "mbdsl_mvau_stream", outputs)
    assert inputs == dict.fromkeys(outputs, []), inputs
