"""Functional tests of every RTL unit: random stalls on both stream sides, several frames
back to back, compared beat for beat with ``mbdsl.semantics`` (via the tb_* generators).

Each entry of a table below is one parameter set = one Verilator build (own build dir,
ccache). Keys are those of the matching ``tb_<unit>.make_case``.
"""

import pytest

from harness import simulate

pytestmark = pytest.mark.verilator

# (parameters, options) per unit; options: frames, p_valid, p_ready, seed
FIFO = [
    (dict(WIDTH=8, DEPTH=2), dict(frames=3)),
    (dict(WIDTH=13, DEPTH=5), dict(frames=3, p_valid=0.9, p_ready=0.4)),
    (dict(WIDTH=32, DEPTH=16), dict(frames=3, p_valid=0.4, p_ready=0.9)),
]

SWG = [
    dict(IFM_H=6, IFM_W=5, C=4, K=3, STRIDE=1, PAD=1, BITS=4, CPAR=2, KPAR=1, DW=0),
    dict(IFM_H=7, IFM_W=7, C=4, K=3, STRIDE=2, PAD=0, BITS=4, CPAR=1, KPAR=1, DW=0),
    dict(IFM_H=6, IFM_W=6, C=4, K=3, STRIDE=2, PAD=1, BITS=3, CPAR=2, KPAR=3, DW=1),
    dict(IFM_H=5, IFM_W=4, C=4, K=3, STRIDE=1, PAD=1, BITS=4, CPAR=4, KPAR=9, DW=0),
    dict(IFM_H=4, IFM_W=6, C=6, K=1, STRIDE=2, PAD=0, BITS=2, CPAR=3, KPAR=1, DW=0),
    dict(IFM_H=6, IFM_W=6, C=4, K=3, STRIDE=1, PAD=1, BITS=4, CPAR=2, KPAR=9, DW=1),
    dict(IFM_H=8, IFM_W=8, C=3, K=3, STRIDE=2, PAD=0, BITS=8, CPAR=3, KPAR=1, DW=0),
    dict(IFM_H=5, IFM_W=5, C=8, K=3, STRIDE=1, PAD=1, BITS=4, CPAR=8, KPAR=1, DW=1),
    dict(IFM_H=6, IFM_W=7, C=2, K=3, STRIDE=2, PAD=1, BITS=4, CPAR=1, KPAR=1, DW=1),
    dict(IFM_H=4, IFM_W=4, C=4, K=1, STRIDE=1, PAD=0, BITS=4, CPAR=4, KPAR=1, DW=0),
    dict(IFM_H=7, IFM_W=6, C=2, K=5, STRIDE=1, PAD=2, BITS=4, CPAR=2, KPAR=5, DW=1),
    dict(IFM_H=3, IFM_W=3, C=4, K=3, STRIDE=1, PAD=1, BITS=4, CPAR=2, KPAR=1, DW=0),
]

_U8, _S8 = dict(IN_BITS=8, IN_SIGNED=0), dict(IN_BITS=8, IN_SIGNED=1)
_U4 = dict(IN_BITS=4, IN_SIGNED=0)
MVAU = [
    # conv0-like: 3x3 s2 on 3 channels, uint8 in, int8 weights, 4-bit codes
    dict(I=3, K=3, IMG=7, STRIDE=2, PAD=0, MH=8, PE=4, SIMD=3, **_U8, W_BITS=8, OUT_BITS=4),
    dict(I=8, K=1, IMG=4, STRIDE=1, PAD=0, MH=8, PE=2, SIMD=4, **_U4, W_BITS=4, W_NARROW=1,
         OUT_BITS=4),
    # final FC: raw accumulators out
    dict(I=16, K=1, IMG=1, STRIDE=1, PAD=0, MH=10, PE=5, SIMD=4, **_U4, W_BITS=4, N_THRES=0),
    # final FC with a bias: the accumulators start at it (logits acc + bias)
    dict(I=16, K=1, IMG=1, STRIDE=1, PAD=0, MH=10, PE=2, SIMD=8, **_U4, W_BITS=4, N_THRES=0,
         BIAS=9),
    dict(I=4, K=1, IMG=3, STRIDE=1, PAD=0, MH=4, PE=4, SIMD=4, **_U4, W_BITS=4, OUT_BITS=4),
    dict(I=4, K=1, IMG=3, STRIDE=1, PAD=0, MH=3, PE=1, SIMD=1, IN_BITS=3, IN_SIGNED=1,
         W_BITS=2, OUT_BITS=3, OUT_SIGNED=1),
    dict(I=4, K=3, IMG=5, STRIDE=1, PAD=1, MH=6, PE=3, SIMD=6, **_U4, W_BITS=4, OUT_BITS=4),
    dict(I=8, K=1, IMG=4, STRIDE=1, PAD=0, MH=4, PE=2, SIMD=8, **_U4, W_BITS=4, OUT_BITS=1,
         N_THRES=1),
    dict(I=6, K=1, IMG=4, STRIDE=1, PAD=0, MH=8, PE=8, SIMD=2, **_S8, W_BITS=3, OUT_BITS=2),
    dict(I=9, K=3, IMG=3, STRIDE=1, PAD=1, MH=2, PE=1, SIMD=1, **_U4, W_BITS=4, OUT_BITS=4),
    dict(I=4, K=3, IMG=4, STRIDE=2, PAD=1, MH=4, PE=2, SIMD=12, **_U4, W_BITS=4, OUT_BITS=4,
         N_THRES=7),
    # products of wide operands as sums of 4-bit digit products: 5-bit signed x 7-bit
    dict(I=6, K=1, IMG=3, STRIDE=1, PAD=0, MH=4, PE=2, SIMD=3, IN_BITS=5, IN_SIGNED=1, W_BITS=7,
         OUT_BITS=3, OUT_SIGNED=1),
]

VVAU = [
    dict(C=8, K=3, IMG=5, STRIDE=1, PAD=1, PE=2, SIMD=1, **_U4, W_BITS=4, OUT_BITS=4),
    dict(C=8, K=3, IMG=6, STRIDE=2, PAD=1, PE=4, SIMD=3, **_U4, W_BITS=4, W_NARROW=1,
         OUT_BITS=4),
    dict(C=4, K=3, IMG=4, STRIDE=1, PAD=1, PE=4, SIMD=9, **_U4, W_BITS=4, OUT_BITS=4),
    dict(C=6, K=3, IMG=5, STRIDE=2, PAD=0, PE=1, SIMD=1, IN_BITS=4, IN_SIGNED=1, W_BITS=4,
         OUT_BITS=3, OUT_SIGNED=1),
    dict(C=4, K=3, IMG=4, STRIDE=1, PAD=1, PE=2, SIMD=9, **_U4, W_BITS=4, N_THRES=0),
    dict(C=4, K=3, IMG=4, STRIDE=1, PAD=1, PE=4, SIMD=3, **_U4, W_BITS=4, N_THRES=0, BIAS=6),
    dict(C=16, K=3, IMG=4, STRIDE=1, PAD=1, PE=8, SIMD=3, **_U4, W_BITS=4, OUT_BITS=2),
    dict(C=4, K=5, IMG=6, STRIDE=1, PAD=2, PE=2, SIMD=5, **_U4, W_BITS=4, OUT_BITS=4),
    dict(C=2, K=1, IMG=4, STRIDE=1, PAD=0, PE=2, SIMD=1, **_U4, W_BITS=4, OUT_BITS=4),
    dict(C=8, K=3, IMG=4, STRIDE=1, PAD=1, PE=8, SIMD=1, **_U8, W_BITS=8, OUT_BITS=4),
]

DWC = [
    dict(IN_ELEMS=1, OUT_ELEMS=4, BITS=4, TOTAL=8),
    dict(IN_ELEMS=4, OUT_ELEMS=1, BITS=4, TOTAL=8),
    dict(IN_ELEMS=3, OUT_ELEMS=2, BITS=5, TOTAL=6),
    dict(IN_ELEMS=2, OUT_ELEMS=3, BITS=5, TOTAL=6),
    dict(IN_ELEMS=4, OUT_ELEMS=4, BITS=4, TOTAL=8),
    dict(IN_ELEMS=16, OUT_ELEMS=4, BITS=4, TOTAL=32),
]

POOL = [
    dict(C=8, PE=2, H=4, W=4, IN_BITS=4, SHIFT=3, OUT_BITS=4),
    dict(C=4, PE=4, H=1, W=1, IN_BITS=4, SHIFT=0, OUT_BITS=4),
    dict(C=6, PE=1, H=3, W=3, IN_BITS=4, SHIFT=1, OUT_BITS=4),
    dict(C=16, PE=4, H=7, W=7, IN_BITS=4, SHIFT=5, OUT_BITS=4),
    # three channel groups: the accumulator RAM's read-add-write pipeline at its closest
    dict(C=6, PE=2, H=2, W=3, IN_BITS=4, SHIFT=1, OUT_BITS=4),
    dict(C=4, PE=2, H=3, W=1, IN_BITS=4, SHIFT=0, OUT_BITS=4),
]

TOPK = [
    dict(N=10, IN_BITS=8, K=5, SPREAD=4),
    dict(N=16, IN_BITS=6, K=1, SPREAD=64),
    dict(N=7, IN_BITS=4, K=7, SPREAD=3),
    dict(N=100, IN_BITS=12, K=5, SPREAD=40),
]

NV12 = [dict(W=4, H=2), dict(W=8, H=4)]

_STALLS = [dict(), dict(p_valid=0.5, p_ready=0.9), dict(p_valid=0.9, p_ready=0.5)]


def _table(unit, rows, frames=2):
    out = []
    for n, row in enumerate(rows):
        p, opts = row if isinstance(row, tuple) else (row, dict(frames=frames, **_STALLS[n % 3]))
        out.append(pytest.param(unit, p, opts, id=f"{unit}{n}"))
    return out


CASES = (_table("fifo", FIFO) + _table("swg", SWG) + _table("mvau", MVAU, frames=2)
         + _table("vvau", VVAU) + _table("dwc", DWC, frames=3) + _table("pool", POOL, frames=3)
         + _table("topk", TOPK, frames=3) + _table("nv12", NV12))


@pytest.mark.parametrize("unit,p,opts", CASES)
def test_unit(unit, p, opts):
    opts = dict(opts)
    case, res = simulate(unit, p, seed=opts.pop("seed", 7), **opts)
    assert res["errors"] == [], "\n".join(res["errors"])
    assert res["failed"] == 0
    assert len(res["out_cycles"]) == len(case["out"])
    # activations must be spread over their codes, else the comparison proves little
    if case.get("levels"):
        assert len(case["codes"]) >= min(case["levels"], 2), case["codes"]
        if case["levels"] <= 16 and len(case["out"]) * 2 >= case["levels"] * 8:
            assert len(case["codes"]) == case["levels"], (
                f"only codes {list(case['codes'])} of {case['levels']} appear"
            )


def _flip_one_bit(beats: list[int]) -> list[int]:
    beats[len(beats) // 2] ^= 1
    return beats


FIRST_OF_EACH_UNIT = [c for c in CASES if c.id == f"{c.values[0]}0"]


@pytest.mark.parametrize("unit,p,opts", FIRST_OF_EACH_UNIT)
def test_a_wrong_expected_beat_fails_the_bench(unit, p, opts):
    """Every bench can fail: one flipped bit in one expected beat is reported at that beat
    and fails the cocotb test (the same build and stimulus as the passing case)."""
    opts = dict(opts)
    case, res = simulate(unit, p, seed=opts.pop("seed", 7), tamper=_flip_one_bit, **opts)
    assert res["failed"] == 1
    assert len(res["errors"]) == 1, res["errors"]
    assert res["errors"][0].endswith(f"expected {case['out'][len(case['out']) // 2] ^ 1:#x}")
