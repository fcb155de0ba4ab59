"""The multiplier-style activation (mbdsl_requant) in a matrix-vector unit: random stalls
on both sides, several frames back to back, compared beat for beat with
``semantics.requantize`` (bench and case generator: ``tb_requant.py``)."""

import pytest

from harness import simulate
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
