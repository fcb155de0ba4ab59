"""Multi-pixel input streams, without tools: ``input ... fold(pixels = P)`` through the
frontend, the cycle model, the RTL plan, the backends that refuse or ignore it, the
optimizer that chooses it, and the spec writer."""

from __future__ import annotations

import re

import attrs
import pytest

from mbdsl import backends, ir
from mbdsl.autofold import fold_for_ii, solve_pixels
from mbdsl.backends.rtl.top import plan
from mbdsl.cli import main
from mbdsl.dataflow import fifo_depth, input_cycles, layer_cycles, window, with_pixels
from mbdsl.errors import UnsupportedByBackend
from mbdsl.frontend import load_string
from mbdsl.params import make_params
from mbdsl.passes import check
from mbdsl.spec_writer import write_spec
from networks import spec

SMALL = """
network small {{
  input {size} u8{fold}
  defaults {{ weights int4 narrow; activations uint4 }}
  {first}
  dwconv d1 3x3 stride 1 pad 1 fold(pe = 8, simd = 9)
  avgpool pool global fold(pe = 8)
  fc fc -> 10 fold(pe = 10, simd = 8)
  topk top 1
}}
{target}
"""
CONV = "conv c0 3x3 stride 2 pad 1 -> 8 weights int8 fold(pe = 8, simd = {simd})"


def small(pixels=None, size="16x16x3", first=CONV.format(simd=27), target="") -> ir.Network:
    fold = f" fold(pixels = {pixels})" if pixels is not None else ""
    return check(load_string(SMALL.format(size=size, fold=fold, first=first, target=target), "small.mbn"))


def test_the_input_port_and_the_first_layer_take_p_pixels():
    one, two = small(), small(2)
    assert (one.input.pixels, two.input.pixels) == (None, 2)
    assert [l.in_pixels for l in two.layers] == [2] + [1] * (len(two.layers) - 1)
    assert input_cycles(two.input) * 2 == input_cycles(one.input)
    w1, w2 = window(one.layers[0]), window(two.layers[0])
    assert (w1.pixels, w2.pixels) == (1, 2) and w2.row_beats * 2 == w1.row_beats
    assert fifo_depth(two.layers[0]) == w2.row_beats


def test_finn_conv0_windows_keep_up_with_four_pixels_per_beat():
    """FINN's conv0 (224x224x3, K3 S2 P0, 111x111 windows) at one window per cycle (SIMD 27):
    the window generator is bound by its input rows at P = 2 and 4, i.e. by the port."""
    net = spec("mobilenet_v1_w4a4_u250.mbn")
    conv0 = attrs.evolve(net.layers[0], fold=attrs.evolve(net.layers[0].fold, simd=27))
    for p in (2, 4):
        wider = with_pixels(net.replace_layers((conv0,) + net.layers[1:]), p)
        w = window(wider.layers[0])
        assert w.ofm_h * w.ofm_w * w.kernel_groups < input_cycles(wider.input)  # 12,321 windows
        assert w.cycles == input_cycles(wider.input) == 224 * 224 // p


def test_rtl_plan_carries_p_pixels_to_the_window_generator():
    head, stages = plan(small(2))
    assert head.elems == 6 and head.width == 48
    fifo, swg = stages[0], stages[1]
    assert fifo.module == "mbdsl_fifo" and dict(fifo.params)["WIDTH"] == 48
    assert swg.module == "mbdsl_swg" and dict(swg.params)["PIX"] == 2
    # one pixel per beat: the window generator has no PIX parameter (the P = 1 top is unchanged)
    assert "PIX" not in dict(plan(small())[1][1].params)


def test_written_pixels_1_generates_the_same_top():
    a = backends.generate("rtl", small(), make_params(small()))
    net = small(1)
    b = backends.generate("rtl", net, make_params(net))
    assert {k: v for k, v in a.items() if k != "README.md"} == {k: v for k, v in b.items() if k != "README.md"}


@pytest.mark.parametrize("first, module", [(CONV.format(simd=1), "mbdsl_swg"), ("pwconv c0 -> 8 weights int8 fold(pe = 8, simd = 3)", "mbdsl_mvau")])
def test_a_first_layer_taking_less_than_a_pixel_gets_a_width_converter(first, module):
    net = small(2, first=first)
    _, stages = plan(net)
    dwc = dict(stages[0].params)
    assert stages[0].module == "mbdsl_dwc" and dwc["IN_ELEMS"] == 6 and dwc["OUT_ELEMS"] < 6
    assert [s.module for s in stages[1:3]][-1] == module and "PIX" not in dict(stages[2].params)
    assert input_cycles(net.input) < layer_cycles(net.layers[0])  # the layer, not the port, bounds it


def test_rtl_port_wider_than_64_bits():
    """4 RGB pixels a beat: a 96-bit port (the harness drives any input width)."""
    head, stages = plan(small(4))
    assert head.width == 96 and dict(stages[1].params)["PIX"] == 4


def test_hls_refuses_p_pixels():
    net = small(2)
    with pytest.raises(UnsupportedByBackend, match=r"the HLS top takes one pixel per beat, and the input asks for 2") as e:
        backends.generate("hls", net, make_params(net))
    assert e.value.span == net.input.pixels_span


def test_gap8_ignores_p_pixels():
    """GAP8 reads the image from memory: the input port's width does not exist there."""
    target = "target fpga { clock 200 MHz }\ntarget gap8 { l1 50000; l2 350000; l3 8 MiB; cores 8 }"
    first = "conv c0 3x3 stride 2 pad 1 -> 8 weights int8 activations int8 fold(pe = 8, simd = 27)"
    quant = SMALL.replace("activations uint4 }", "activations int8; quant multiplier }").replace("fold(pe = 10, simd = 8)", "weights int8")
    nets = [check(load_string(quant.format(size="16x16x3", fold=f, first=first, target=target), "q.mbn")) for f in ("", " fold(pixels = 2)")]
    a, b = (backends.generate("gap8", n, make_params(n)) for n in nets)
    assert a == b


def test_spec_writer_round_trips_pixels():
    net = small(4, size="16x16x1", first=CONV.format(simd=9))
    text = write_spec(net)
    assert re.search(r"^  input 16x16x1 u8 fold\(pixels = 4\)$", text, re.M)
    again = check(load_string(text, "again.mbn"))
    assert again.input.pixels == 4 and again.layers[0].in_pixels == 4
    assert "fold(pixels" not in write_spec(small())


def test_optimizer_widens_the_port_when_it_bounds_the_ii():
    net = small()
    port = input_cycles(net.input)
    p = solve_pixels(net, ir.FoldGoal(fps=200e6 / (port // 2)), 200e6)
    assert p.pixels == 2 and p.ii == port // 2
    # a goal the port at one pixel per beat meets: no wider port
    assert solve_pixels(net, ir.FoldGoal(fps=200e6 / port), 200e6).pixels is None
    # a width 4 does not divide: 2 pixels per beat at most, and the goal is then out of reach
    odd = small(size="18x18x3")
    p = solve_pixels(odd, ir.FoldGoal(mac_lanes=100_000), 200e6)
    assert p.pixels == 2 and p.ii == input_cycles(with_pixels(odd, 2).input)


def test_optimizer_keeps_written_pixels():
    net = small(1)
    p = solve_pixels(net, ir.FoldGoal(mac_lanes=100_000), 200e6)
    assert p.pixels == 1 and p.ii == input_cycles(net.input)


def test_fold_auto_goal_sets_the_input_pixels():
    target = "target fpga { clock 200 MHz; fps 1500000 }"
    net = small(first="conv c0 3x3 stride 2 pad 1 -> 8 weights int8 fold(auto)", target=target)
    assert net.input.pixels == 2 and net.layers[0].in_pixels == 2
    assert max(input_cycles(net.input), *map(layer_cycles, net.layers)) <= 200e6 / 1.5e6


def test_fold_command_reports_the_chosen_pixels(tmp_path, capsys):
    path = tmp_path / "s.mbn"
    path.write_text(SMALL.format(size="16x16x3", fold="", first=CONV.format(simd=27), target=""))
    out = tmp_path / "out.mbn"
    assert main(["fold", str(path), "--fps", "1500000", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"input +2 pixels per beat \(fold\(pixels = 2\)\): one pixel per beat bounds the II at 256 cycles; 2 per beat at 128", printed)
    assert check(load_string(out.read_text(), "out.mbn")).input.pixels == 2


def test_fold_command_says_a_wider_port_did_not_help(tmp_path, capsys):
    """At the lanes that just reach the port's II at one pixel per beat, two pixels per beat
    reach no faster II: the folding keeps one, and says so."""
    path = tmp_path / "s.mbn"
    path.write_text(SMALL.format(size="16x16x3", fold="", first=CONV.format(simd=27), target=""))
    net = small()
    lanes = fold_for_ii(net, input_cycles(net.input)).lanes
    assert main(["fold", str(path), "--mac-lanes", str(lanes)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"chosen +II 256 cycles", printed)
    assert re.search(r"input +the input port bounds the II at one pixel per beat; 2 per beat reach no faster II within the goal", printed)


def test_the_input_fold_may_follow_the_preprocessing_block():
    before = check(load_string("network t {\n  input 16x16x3 u8 fold(pixels = 2) { scale 1/255 }\n  conv c0 3x3 -> 8\n}\n", "a.mbn"))
    after = check(load_string("network t {\n  input 16x16x3 u8 { scale 1/255 } fold(pixels = 2)\n  conv c0 3x3 -> 8\n}\n", "b.mbn"))
    assert before.input.pixels == after.input.pixels == 2
    assert before.input.preprocess == after.input.preprocess
    assert after.input.preprocess.scale != 1.0  # the block was read, not dropped
