"""Multi-pixel input streams (``input ... fold(pixels = P)``): the window generator taking
P whole pixels per beat (``mbdsl_swg`` with ``PIX``) is bit-exact against numpy under random
stalls on both sides, and without stalls takes the model's cycles per frame
(``dataflow.Window.cycles``, input rows of IFM_W/P beats); a whole network behind a
2-pixel port is bit-exact under stalls, at the model's II."""

from pathlib import Path

import pytest

import tb_swg
from harness import simulate
from mbdsl import backends, ir
from mbdsl.autofold import solve_pixels
from mbdsl.backends.rtl import netsim, resources
from mbdsl.backends.rtl import verilator as vl
from mbdsl.backends.rtl.sources import hdl_sources
from mbdsl.backends.rtl.synth import cell_resources
from mbdsl.dataflow import input_cycles, with_pixels
from mbdsl.estimates import estimate
from mbdsl.frontend import load, load_string
from mbdsl.images import random_images
from mbdsl.output import write_tree
from mbdsl.params import make_params
from mbdsl.passes import check
from test_rtl_lint_synth import _combinational_inputs, synth



def _swg(h, w, c, k, s, pad, kpar, pix, dw=0, bits=8):
    return dict(IFM_H=h, IFM_W=w, C=c, K=k, STRIDE=s, PAD=pad, BITS=bits, CPAR=c, KPAR=kpar, DW=dw, PIX=pix)


CASES = {
    # FINN's conv0 scaled down, a whole window per beat: writer-bound at P = 2 (2*12/2 beats
    # per output row against 5 windows)
    "conv0-p2": _swg(12, 12, 3, 3, 2, 0, 9, 2),
    # the same at P = 4: still writer-bound, 10 beats per output row against 9 windows
    "conv0-p4": _swg(20, 20, 3, 3, 2, 0, 9, 4),
    # rows of 3 words, the last two windows reading word 1: the writer limit follows the
    # reader two cycles late (3 cycles per frame over the model, so no cycle test)
    "conv0-p4-late": _swg(12, 12, 3, 3, 2, 0, 9, 4),
    # reader-bound: 9 beats a window, padding on every side
    "k3s2pad1-p4": _swg(16, 16, 3, 3, 2, 1, 1, 4),
    # a depthwise feed (channel groups major), 3 kernel positions a beat
    "dw-p2": _swg(10, 10, 4, 3, 1, 1, 3, 2, dw=1, bits=4),
    # 1x1 stride 2: a ring of 3 rows of 2 words, fewer words than pixel columns
    "k1s2-p4": _swg(6, 8, 2, 1, 2, 0, 1, 4, bits=4),
    # a row of 2 words: the writer limit follows the reader two cycles late
    "late-p2": _swg(6, 4, 2, 3, 2, 1, 1, 2, bits=4),
}


@pytest.mark.verilator
@pytest.mark.parametrize("name", CASES)
def test_bit_exact_under_stalls(name):
    _, res = simulate("swg", CASES[name], frames=3, p_valid=0.7, p_ready=0.7, seed=5)
    assert res["errors"] == [] and res["failed"] == 0


@pytest.mark.verilator
@pytest.mark.parametrize("name", ["conv0-p2", "conv0-p4", "k3s2pad1-p4", "dw-p2"])
def test_cycles_per_frame_are_the_model(name):
    p = CASES[name]
    frames = 3
    case, res = simulate("swg", p, frames=frames, p_valid=1.0, p_ready=1.0, cycles_hint=tb_swg.expected_cycles(p) * frames)
    assert res["errors"] == []
    ends = [res["out_cycles"][(f + 1) * case["bpf"] - 1] for f in range(frames)]
    periods = [b - a for a, b in zip(ends, ends[1:])]
    assert periods == [tb_swg.expected_cycles(p)] * (frames - 1), (periods, tb_swg.expected_cycles(p))


@pytest.mark.verilator
def test_the_bench_can_fail():
    """A pixel taken from the wrong half of a word is caught."""
    def swap(beats):
        beats[7] ^= 1
        return beats

    _, res = simulate("swg", CASES["conv0-p2"], frames=1, p_valid=1.0, p_ready=1.0, tamper=swap)
    assert res["errors"] or res["failed"]


# ---- a whole network at 2 pixels per beat ------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "test_rtl_pixels"


@pytest.fixture(scope="module", params=[2, 4])
def built(request):
    """MobileNet-v1 0.25 at 32x32 folded for the II of a P-pixel input port (1,024/P
    cycles), which a narrower port cannot reach: the optimizer widens the port to P (at 4,
    a 96-bit port)."""
    pixels = request.param
    net = check(load(str(ROOT / "specs" / "mobilenet_v1_w0.25_32.mbn")))
    plan = solve_pixels(net, ir.FoldGoal(fps=200e6 * pixels / 1024), 200e6)
    assert plan.pixels == pixels and plan.ii == 1024 // pixels
    net = with_pixels(net.replace_layers(plan.layers), plan.pixels)
    params = make_params(net)
    rtl, build = BUILD / f"p{pixels}" / "rtl", BUILD / f"p{pixels}" / "build"
    write_tree(str(rtl), backends.generate("rtl", net, params))
    netsim.build(rtl, build)
    return net, params, rtl, build


def _simulate(built, n, stall, seed, trace):
    net, params, rtl, build = built
    return netsim.simulate(net, params, random_images(net.input, n, seed=seed), rtl, build, stall=stall, seed=seed, trace=trace)


@pytest.mark.verilator
def test_network_bit_exact_under_stalls(built):
    result = _simulate(built, 3, 0.3, 11, True)
    assert result.mismatch is None, str(result.mismatch)
    assert result.exact and len({tuple(o) for o in result.outputs}) > 1


@pytest.mark.verilator
def test_network_ii_is_the_model(built):
    net = built[0]
    result = _simulate(built, 4, 0.0, 12, False)
    assert result.exact
    ii = estimate(net).ii
    assert ii == input_cycles(net.input) == 1024 // net.input.pixels
    print(f"measured II {result.ii:,.1f} cycles, model {ii:,}")
    assert abs(result.ii - ii) <= 0.02 * ii, (result.ii, ii)


# ---- lint, registered unit boundaries, synthesis against the model -----------------------

@pytest.mark.verilator
@pytest.mark.parametrize("name", ["conv0-p2", "k1s2-p4", "dw-p2"])
def test_lint(name):
    ok, out = vl.lint(hdl_sources("mbdsl_swg"), "mbdsl_swg", CASES[name])
    assert ok, out


@pytest.mark.yosys
@pytest.mark.parametrize("name", ["conv0-p4", "dw-p2"])
def test_no_combinational_path_crosses_the_unit(name, tmp_path):
    inputs = _combinational_inputs("mbdsl_swg", CASES[name], tmp_path)
    assert inputs == {"s_axis_tready": [], "m_axis_tvalid": [], "m_axis_tdata": []}, inputs


@pytest.mark.yosys
def test_synthesis_costs_what_the_model_says():
    """FINN's conv0 generator at 2 pixels per beat, one window a beat: block RAM as the model
    says, FFs and LUTs within the unit table's tolerance (tests/test_rtl_lint_synth.py)."""
    p = _swg(224, 224, 3, 3, 2, 0, 9, 2)
    cells = synth("mbdsl_swg", p)
    real, model = cell_resources(cells), resources.unit("mbdsl_swg", p, "lut")
    print(f"yosys {real}, model {model}")
    assert real.bram18 == model.bram18, (real, model)
    assert abs(model.ff - real.ff) <= 0.25 * real.ff, (real, model)
    assert abs(model.lut - real.lut) <= 0.25 * real.lut + 25, (real, model)


PART_OF_A_PIXEL = """
network part {
  input 8x8x3 u8 fold(pixels = 2)
  defaults { weights int4 narrow; activations uint4 }
  conv c0 3x3 stride 1 pad 1 -> 8 weights int8 fold(pe = 4, simd = 1)
  pwconv p1 -> 16 fold(pe = 4, simd = 8)
  avgpool pool global fold(pe = 4)
  fc fc -> 10 fold(pe = 2, simd = 4)
  topk top 3
}
"""


@pytest.mark.verilator
def test_first_layer_taking_part_of_a_pixel_is_bit_exact(tmp_path):
    """A 2-pixel port in front of a window generator of one channel a beat: the port's
    6-element beats pass a width converter, under stalls on both ports."""
    net = check(load_string(PART_OF_A_PIXEL, "part.mbn"))
    params = make_params(net)
    rtl, build = BUILD / "part" / "rtl", BUILD / "part" / "build"
    write_tree(str(rtl), backends.generate("rtl", net, params))
    netsim.build(rtl, build)
    result = netsim.simulate(net, params, random_images(net.input, 3, seed=3), rtl, build, stall=0.3, seed=3, trace=True)
    assert result.mismatch is None, str(result.mismatch)
    assert result.exact and len({tuple(o) for o in result.outputs}) > 1
