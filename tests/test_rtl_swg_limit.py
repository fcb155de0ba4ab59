"""The window generator's writer limit (mbdsl_swg.sv, "writer limit"): where the beats
still in flight at a row's release cannot meet the writer's first two beats (EARLY), the
limit follows the release at once, so a reader-bound generator with a buffer fill between
frames reaches the analytic cycles per frame exactly (it was 2 cycles over per frame while
the limit followed two cycles late); at the edge of that condition, on both sides, the
windows stay bit-exact with the writer pressed against the limit (no stalls, 3 frames).
"""

import pytest

import tb_swg
from harness import simulate

pytestmark = pytest.mark.verilator

# reader-bound (9 beats per pixel against 2 input columns), 2 rows of fill between frames
FILL = dict(IFM_H=24, IFM_W=24, C=3, K=3, STRIDE=2, PAD=0, BITS=8, CPAR=3, KPAR=1, DW=0)

EDGE = [
    # last output pixel's leftmost column 2, 1 beat per column: EARLY with no margin
    dict(IFM_H=7, IFM_W=5, C=1, K=3, STRIDE=2, PAD=0, BITS=4, CPAR=1, KPAR=1, DW=0),
    # leftmost column 1: the limit follows two cycles late
    dict(IFM_H=6, IFM_W=4, C=2, K=3, STRIDE=2, PAD=1, BITS=4, CPAR=2, KPAR=1, DW=0),
]


def test_reader_bound_frames_take_the_analytic_cycles():
    frames = 3
    case, res = simulate("swg", FILL, frames=frames, p_valid=1.0, p_ready=1.0,
                         cycles_hint=tb_swg.expected_cycles(FILL) * frames)
    assert res["errors"] == []
    ends = [res["out_cycles"][(f + 1) * case["bpf"] - 1] for f in range(frames)]
    periods = [b - a for a, b in zip(ends, ends[1:])]
    assert periods == [tb_swg.expected_cycles(FILL)] * (frames - 1), (periods, tb_swg.expected_cycles(FILL))


@pytest.mark.parametrize("p", EDGE, ids=["early", "late"])
@pytest.mark.parametrize("p_ready", [1.0, 0.6])
def test_limit_edge_is_bit_exact(p, p_ready):
    _, res = simulate("swg", p, frames=3, p_valid=1.0, p_ready=p_ready)
    assert res["errors"] == [] and res["failed"] == 0
