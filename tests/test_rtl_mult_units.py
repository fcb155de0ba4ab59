"""The MAC units with each multiplier choice (``MULT``: lut, dsp, packed; issue 15 item 1):
random stalls on both stream sides, two frames, compared beat for beat with
``mbdsl.semantics`` (the tb_mvau / tb_vvau generators). Worst-case operands (EXTREME: every
x and w its type's minimum or maximum, so min * min, min * max, max * max all occur) with raw
accumulator outputs, where a wrong product cannot hide behind a threshold."""

import pytest

from harness import simulate

_U4, _S4 = dict(IN_BITS=4, IN_SIGNED=0), dict(IN_BITS=4, IN_SIGNED=1)
_U8 = dict(IN_BITS=8, IN_SIGNED=0)
_STALLS = dict(p_valid=0.6, p_ready=0.6)

MVAU = [
    # packed 4 x 4: PE 8 in multiplies of 3, 3 and 2 lanes
    ("packed-u4", dict(I=8, K=1, IMG=4, STRIDE=1, PAD=0, MH=16, PE=8, SIMD=4, **_U4, W_BITS=4, OUT_BITS=4, MULT="packed")),
    ("packed-s4", dict(I=4, K=3, IMG=4, STRIDE=1, PAD=1, MH=6, PE=3, SIMD=6, **_S4, W_BITS=4, OUT_BITS=4, MULT="packed")),
    ("packed-u4-extreme", dict(I=16, K=1, IMG=2, STRIDE=1, PAD=0, MH=10, PE=5, SIMD=4, **_U4, W_BITS=4, N_THRES=0,
                               MULT="packed", EXTREME=1)),
    ("packed-s4-extreme", dict(I=16, K=1, IMG=2, STRIDE=1, PAD=0, MH=12, PE=6, SIMD=2, **_S4, W_BITS=4, N_THRES=0,
                               MULT="packed", EXTREME=1)),
    # PE 4 in multiplies of 3 and 1: the lone lane's whole product
    ("packed-s4-lone", dict(I=16, K=1, IMG=2, STRIDE=1, PAD=0, MH=8, PE=4, SIMD=2, **_S4, W_BITS=4, N_THRES=0,
                            MULT="packed", EXTREME=1)),
    ("packed-u4-lone", dict(I=8, K=1, IMG=3, STRIDE=1, PAD=0, MH=8, PE=4, SIMD=4, **_U4, W_BITS=4, N_THRES=0,
                            MULT="packed", EXTREME=1)),
    # the 8-bit first layer: 2 products per multiply
    ("packed-u8", dict(I=3, K=3, IMG=5, STRIDE=2, PAD=0, MH=8, PE=4, SIMD=3, **_U8, W_BITS=8, N_THRES=0, MULT="packed",
                       EXTREME=1)),
    # a bias and packing together; odd widths: 3-bit signed x, 2-bit weights (5 per multiply)
    ("packed-s3w2-bias", dict(I=8, K=1, IMG=2, STRIDE=1, PAD=0, MH=10, PE=5, SIMD=2, IN_BITS=3, IN_SIGNED=1, W_BITS=2,
                              N_THRES=0, BIAS=7, MULT="packed", EXTREME=1)),
    ("dsp-u8", dict(I=3, K=3, IMG=5, STRIDE=2, PAD=0, MH=8, PE=4, SIMD=3, **_U8, W_BITS=8, N_THRES=0, MULT="dsp", EXTREME=1)),
    ("dsp-s4", dict(I=8, K=1, IMG=3, STRIDE=1, PAD=0, MH=4, PE=2, SIMD=4, **_S4, W_BITS=4, N_THRES=0, MULT="dsp", EXTREME=1)),
    ("lut-s4", dict(I=8, K=1, IMG=3, STRIDE=1, PAD=0, MH=4, PE=2, SIMD=4, **_S4, W_BITS=4, N_THRES=0, MULT="lut", EXTREME=1)),
    # wide operands: digit products, each split into products of at most 8 bits
    ("lut-s5w7", dict(I=6, K=1, IMG=3, STRIDE=1, PAD=0, MH=4, PE=2, SIMD=3, IN_BITS=5, IN_SIGNED=1, W_BITS=7, N_THRES=0,
                      MULT="lut", EXTREME=1)),
    ("lut-u8", dict(I=3, K=3, IMG=5, STRIDE=2, PAD=0, MH=8, PE=4, SIMD=3, **_U8, W_BITS=8, OUT_BITS=4, MULT="lut")),
]

VVAU = [
    ("dsp-u4-extreme", dict(C=4, K=3, IMG=4, STRIDE=1, PAD=1, PE=4, SIMD=3, **_U4, W_BITS=4, N_THRES=0, MULT="dsp", EXTREME=1)),
    ("lut-s4-extreme", dict(C=4, K=3, IMG=4, STRIDE=1, PAD=1, PE=2, SIMD=9, **_S4, W_BITS=4, N_THRES=0, MULT="lut", EXTREME=1)),
    ("dsp-u8", dict(C=8, K=3, IMG=4, STRIDE=1, PAD=1, PE=8, SIMD=1, **_U8, W_BITS=8, OUT_BITS=4, MULT="dsp")),
]

CASES = ([pytest.param("mvau", p, id=f"mvau-{name}") for name, p in MVAU]
         + [pytest.param("vvau", p, id=f"vvau-{name}") for name, p in VVAU])


@pytest.mark.verilator
@pytest.mark.parametrize("unit,p", CASES)
def test_unit_with_multiplier_choice(unit, p):
    case, res = simulate(unit, p, seed=11, frames=2, **_STALLS)
    assert res["errors"] == [], "\n".join(res["errors"])
    assert res["failed"] == 0
    assert len(res["out_cycles"]) == len(case["out"])
    assert case["params"]["MULT"] in (1, 2, 3)
    if p.get("MULT") == "packed":
        assert 1 < case["params"]["PACK"] <= p["PE"]
