"""The vector (depthwise) unit with ``MULT`` packed (issue 15 item 1's remainder): two lanes
per DSP multiply (mbdsl_mul_pair), random stalls on both stream sides, two frames, compared
beat for beat with ``mbdsl.semantics`` (the tb_vvau generator). EXTREME cases take every x
and w at its type's minimum or maximum with raw accumulator outputs, where a wrong field or
borrow cannot hide behind a threshold; the others random operands and thresholds. The
foldings cover every multiply kind: dot-product pairs (SIMD 3, 9), two-product pairs of the
odd last lanes (PE even), and the lone last lane (PE and SIMD odd)."""

import pytest

from harness import simulate

_U4, _S4 = dict(IN_BITS=4, IN_SIGNED=0), dict(IN_BITS=4, IN_SIGNED=1)
_STALLS = dict(p_valid=0.6, p_ready=0.6)

CASES = [
    ("u4-simd9-extreme", dict(C=4, K=3, IMG=4, STRIDE=1, PAD=1, PE=4, SIMD=9, **_U4, W_BITS=4, N_THRES=0, EXTREME=1)),
    ("s4-pe3-simd3-extreme", dict(C=6, K=3, IMG=4, STRIDE=1, PAD=1, PE=3, SIMD=3, **_S4, W_BITS=4, N_THRES=0, EXTREME=1)),
    ("u4w8-simd1-extreme", dict(C=4, K=3, IMG=4, STRIDE=2, PAD=1, PE=2, SIMD=1, **_U4, W_BITS=8, N_THRES=0, EXTREME=1)),
    ("s4w8-pe1-simd9-extreme", dict(C=3, K=3, IMG=4, STRIDE=1, PAD=1, PE=1, SIMD=9, **_S4, W_BITS=8, N_THRES=0, EXTREME=1)),
    ("u4-thresholds", dict(C=8, K=3, IMG=5, STRIDE=1, PAD=1, PE=4, SIMD=3, **_U4, W_BITS=4, OUT_BITS=4)),
    ("s4w8-random-raw", dict(C=6, K=3, IMG=4, STRIDE=1, PAD=1, PE=3, SIMD=9, **_S4, W_BITS=8, N_THRES=0, BIAS=9)),
]


@pytest.mark.verilator
@pytest.mark.slow
@pytest.mark.parametrize("p", [pytest.param(p, id=name) for name, p in CASES])
def test_packed_vvau_is_bit_exact_under_stalls(p):
    case, res = simulate("vvau", p | dict(MULT="packed"), seed=13, frames=2, **_STALLS)
    assert res["errors"] == [], "\n".join(res["errors"])
    assert res["failed"] == 0
    assert len(res["out_cycles"]) == len(case["out"])
    assert case["params"]["MULT"] == 3 and "PACK" not in case["params"]
