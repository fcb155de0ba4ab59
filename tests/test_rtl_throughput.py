"""Throughput: with no stalls, cycles per frame of the SWG, MVAU and VVAU must match the
analytic formulas (REFERENCE.md section 1) within 2%.

The steady-state frame period is measured between the last output beats of consecutive
frames (the first frame also contains the pipeline fill). The last SWG case is FINN's first
layer at full size (224x224x3, K3 S2, CPAR 3): 111,337 cycles/frame expected, ~220k cycles
of simulation.
"""

import pytest

import tb_mvau
import tb_swg
import tb_vvau
from harness import simulate

pytestmark = pytest.mark.verilator


def _period(case, res, frames):
    bpf = case["bpf"]
    ends = [res["out_cycles"][(f + 1) * bpf - 1] for f in range(frames)]
    return ends[-1] - ends[-2], ends


SWG_T = [
    # reader-bound (K*K*CF*OW > S*IFM_W*CF): conv0 shape, scaled down
    dict(IFM_H=32, IFM_W=32, C=3, K=3, STRIDE=2, PAD=0, BITS=8, CPAR=3, KPAR=1, DW=0),
    # depthwise feed, PE=CPAR=4, KPAR=3
    dict(IFM_H=16, IFM_W=16, C=8, K=3, STRIDE=1, PAD=1, BITS=4, CPAR=4, KPAR=3, DW=1),
    # writer-bound: fully parallel kernel, stride 2
    dict(IFM_H=16, IFM_W=16, C=4, K=3, STRIDE=2, PAD=1, BITS=4, CPAR=4, KPAR=9, DW=1),
    # FINN MobileNet-v1 conv0 on the U250: the network's bottleneck, ~111,340 cycles/frame
    dict(IFM_H=224, IFM_W=224, C=3, K=3, STRIDE=2, PAD=0, BITS=8, CPAR=3, KPAR=1, DW=0),
    # a kernel taller than the image less its padding: the last window reads from row 0, so
    # the ring preloads the whole next frame (100 cycles; the fill model once said 112)
    dict(IFM_H=3, IFM_W=3, C=4, K=5, STRIDE=1, PAD=1, BITS=4, CPAR=1, KPAR=1, DW=0),
]


@pytest.mark.parametrize("p", SWG_T, ids=lambda p: f"swg{p['IFM_H']}k{p['K']}s{p['STRIDE']}"
                         f"c{p['C']}/{p['CPAR']}kp{p['KPAR']}")
def test_swg_throughput(p):
    frames = 2
    case, res = simulate("swg", p, frames=frames, p_valid=1.0, p_ready=1.0,
                         cycles_hint=tb_swg.expected_cycles(p) * frames)
    assert res["errors"] == []
    period, ends = _period(case, res, frames)
    formula = tb_swg.expected_cycles(p)
    print(f"swg {p}: {period} cycles/frame, formula {formula} "
          f"(REFERENCE.md form {tb_swg.finn_formula(p)}), frame ends {ends}")
    assert abs(period - formula) <= 0.02 * formula, (period, formula)


MVAU_T = dict(I=4, K=3, IMG=6, STRIDE=1, PAD=1, MH=16, PE=4, SIMD=6, IN_BITS=4, IN_SIGNED=0,
              W_BITS=4, OUT_BITS=4)
VVAU_T = dict(C=16, K=3, IMG=6, STRIDE=1, PAD=1, PE=4, SIMD=3, IN_BITS=4, IN_SIGNED=0,
              W_BITS=4, OUT_BITS=4)


def test_mvau_throughput():
    frames = 3
    case, res = simulate("mvau", MVAU_T, frames=frames, p_valid=1.0, p_ready=1.0)
    assert res["errors"] == []
    period, ends = _period(case, res, frames)
    p = case["params"]
    formula = tb_mvau.expected_cycles(p, case["n_vectors"] // frames)
    print(f"mvau {p}: {period} cycles/frame, formula {formula}, frame ends {ends}")
    assert abs(period - formula) <= 0.02 * formula, (period, formula)


def test_vvau_throughput():
    frames = 3
    case, res = simulate("vvau", VVAU_T, frames=frames, p_valid=1.0, p_ready=1.0)
    assert res["errors"] == []
    period, ends = _period(case, res, frames)
    formula = tb_vvau.expected_cycles(VVAU_T, case["n_pixels"] // frames)
    print(f"vvau {VVAU_T}: {period} cycles/frame, formula {formula}, frame ends {ends}")
    assert abs(period - formula) <= 0.02 * formula, (period, formula)
