"""fold(weights = stream) beyond the unit: the generated top (a weight-stream port per
streamed layer), the off-chip bound printed with the II, the device rule, the resource model."""

import json
import os

import pytest

from mbdsl import backends
from mbdsl.backends.rtl import pack, top
from mbdsl.backends.rtl.cost import layer_cost
from mbdsl.backends.rtl.resources import unit
from mbdsl.dataflow import offchip_bytes, offchip_ii, stream_bytes
from mbdsl.estimates import offchip_note
from mbdsl.frontend import load_string
from mbdsl.params import make_params
from mbdsl.passes import check

SPEC = """network tinys {
  input 12x12x3 u8
  defaults { weights int4 narrow; activations uint4 }
  weights random(seed = 5)
  conv   c0 3x3 stride 2 pad 1 -> 8 weights int8
  dwconv d1 3x3 stride 1 pad 1
  pwconv p1 -> 16 fold(pe = %s, simd = 2, weights = %s)
  dwconv d2 3x3 stride 2 pad 1
  avgpool pool global
  fc     fc -> 10 weights int5 fold(pe = 2, simd = 4, weights = %s)
  topk   top 3
}
%s"""


def _net(pe=4, p1="stream", fc="stream", target=""):
    return check(load_string(SPEC % (pe, p1, fc, target), "tinys.mbn"))


def test_a_streamed_layer_gets_a_weight_port_of_whole_bytes_and_no_rom():
    net = _net()
    files = backends.generate("rtl", net, make_params(net))
    sv = files["tinys_top.sv"]
    # fc: 2 x 4 lanes of 5 bits = 40 bits; p1: 4 x 2 lanes of 4 bits = 32 bits
    for port, bits in (("fc_w", 40), ("p1_w", 32)):
        assert f"input  logic [{bits - 1}:0] {port}_tdata," in sv
        assert f"output logic {port}_tready," in sv
    stages = {s.instance: s for s in top.plan(net, make_params(net))[1]}
    assert stages["fc"].module == stages["p1"].module == "mbdsl_mvau_stream"
    assert "WEIGHT_FILE" not in dict(stages["fc"].params) and dict(stages["fc"].params)["WMEM"] == 2
    assert stages["c0"].module == "mbdsl_mvau" and stages["c0"].weight_stream == 0
    manifest = json.loads(files["manifest.json"])
    assert manifest["weight_streams"] == [{"port": "p1_w", "file": "weights/p1.memh", "bits": 32},
                                          {"port": "fc_w", "file": "weights/fc.memh", "bits": 40}]
    # the stream carries the ROM's words: the file the harness feeds is pack's weight words
    fc = next(layer for layer in net.layers if layer.name == "fc")
    w = make_params(net)["fc"].weights.reshape(fc.matrix)
    assert files["weights/fc.memh"] == pack.weight_memh(w, 2, 4, 5)


def test_a_top_without_streams_is_unchanged_by_them():
    net = _net(p1="rom", fc="rom")
    files = backends.generate("rtl", net, make_params(net))
    assert "_w_t" not in files["tinys_top.sv"] and "weight_streams" not in json.loads(files["manifest.json"])


def test_offchip_bytes_and_bound():
    net = _net()
    p1, fc = (next(layer for layer in net.layers if layer.name == n) for n in ("p1", "fc"))
    # p1: 16 x 8 int4 weights for each of its 36 pixels; fc: 10 x 16 int5 weights in 40-bit words, once
    assert stream_bytes(p1) == 16 * 8 * 4 // 8 * 36 and stream_bytes(fc) == 10 // 2 * 16 // 4 * 5
    assert offchip_bytes(net) == stream_bytes(p1) + stream_bytes(fc) == 2404
    # 19.2 GB/s at 200 MHz: 96 bytes a cycle
    assert offchip_ii(net, 19.2, 200e6) == pytest.approx(2404 / 96)
    note = offchip_note(net, 200e6, "xczu7ev-ffvc1156-2-e")
    assert note == ("off-chip weights: 0.0024 MB/frame; at 19.2 GB/s peak the II is at least 25 cycles "
                    "(7,986,688.9 FPS at 200 MHz; estimate; no DRAM simulated)")
    assert offchip_note(_net(p1="rom", fc="rom"), 200e6) is None
    assert "name a device" in offchip_note(net, 200e6)


STREAM_SPEC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs", "mobilenet_v1_int8_u250_stream.mbn")
STREAM_BYTES = 1024 * 1024 * 49 + 1000 * 1024
"""b13.pw's 1,024 x 1,024 int8 weights for each of its 49 pixels, the fc's 1,000 x 1,024 once."""


def test_the_int8_u250_network_streams_b13_pw_and_fc():
    from mbdsl.frontend import load
    net = check(load(STREAM_SPEC))
    mb = {layer.name: stream_bytes(layer) for layer in net.layers if getattr(layer, "fold", None) and layer.fold.weights == "stream"}
    assert mb == {"b13.pw": 1024 * 1024 * 49, "fc": 1000 * 1024}
    assert offchip_ii(net, 76.8, 206e6) == pytest.approx(STREAM_BYTES * 206e6 / 76.8e9)


def test_streaming_needs_a_device_with_offchip_memory():
    from mbdsl.errors import TargetError
    with pytest.raises(TargetError, match="layer p1 streams its weights from off-chip memory"):
        _net(target='target fpga { device "xc7a100t-csg324-1" }')
    assert _net(target='target fpga { device "xczu7ev-ffvc1156-2-e" }').fpga.device == "xczu7ev-ffvc1156-2-e"


def test_a_streamed_unit_has_no_weight_memory_but_its_fifo():
    """The resource model: the fc of the int8 U250 network keeps 1,000 x 1,024 int8 weights in
    block RAM; streamed, none (its two-word FIFO of 25-byte words may take a block RAM or two)."""
    p = dict(MH=1000, MW=1024, PE=25, SIMD=1, IN_BITS=7, IN_SIGNED=0, W_BITS=8, ACC_BITS=24, N_THRES=0)
    rom = unit("mbdsl_mvau", p, "auto")
    streamed = unit("mbdsl_mvau_stream", p | dict(WMEM=2), "auto")
    assert rom.bram18 >= 1000 * 1024 * 8 / 18432
    assert streamed.bram18 <= 2 and streamed.ff > rom.ff  # a FIFO and the word's registers
    net, rom_net = _net(), _net(p1="rom", fc="rom")
    cost, rom_cost = layer_cost(net, "auto"), layer_cost(rom_net, "auto")
    p1 = next(layer for layer in net.layers if layer.name == "p1")
    p1_rom = next(layer for layer in rom_net.layers if layer.name == "p1")
    assert cost(p1) != rom_cost(p1_rom)  # the budgets of mbdsl fold --device see the difference


def test_check_prints_the_bound_as_an_estimate(capsys):
    from mbdsl.cli import main
    assert main(["check", STREAM_SPEC]) == 0
    out = " ".join(capsys.readouterr().out.split())
    ii = STREAM_BYTES * 206e6 / 76.8e9
    assert (f"off-chip weights: {STREAM_BYTES / 1e6:.1f} MB/frame; at 76.8 GB/s peak the II is at least {ii:,.0f} cycles "
            f"({206e6 / ii:,.1f} FPS at 206 MHz; estimate; no DRAM simulated)") in out


NETWORK = """network streamed {
  input 12x12x3 u8
  defaults { weights int4 narrow; activations uint4 }
  weights random(seed = 9)
  conv   c0 3x3 stride 2 pad 1 -> 8 weights int8 fold(pe = 8, simd = 3)
  dwconv d1 3x3 stride 1 pad 1 fold(pe = 2, simd = 3)
  pwconv p1 -> 16 fold(pe = 1, simd = 2, weights = stream)
  dwconv d2 3x3 stride 2 pad 1 fold(pe = 4, simd = 3)
  avgpool pool global
  fc     fc -> 10 weights int5 fold(pe = 2, simd = 4, weights = stream)
  topk   top 3
}
"""


@pytest.mark.verilator
@pytest.mark.slow
def test_a_network_with_streamed_layers_simulates_bit_exact_at_the_model_ii(tmp_path):
    """The streamed pointwise conv is the bottleneck (16 x 8 weights a pixel, one a cycle):
    with the harness's weight streams keeping up, the measured II is the model's; under
    random stalls of the input, the weight streams and the output, every layer is still exact."""
    from mbdsl.backends.rtl import netsim
    from mbdsl.estimates import estimate
    from mbdsl.images import random_images
    from mbdsl.output import write_tree
    net = check(load_string(NETWORK, "streamed.mbn"))
    figures = estimate(net)
    assert figures.bottleneck_name == "p1"
    params = make_params(net)
    rtl, build = tmp_path / "rtl", tmp_path / "build"
    write_tree(str(rtl), backends.generate("rtl", net, params))
    netsim.build(rtl, build)
    images = random_images(net.input, 3, seed=4)
    result = netsim.simulate(net, params, images, rtl, build)
    assert result.exact, result.mismatch
    assert result.ii == figures.ii
    stalled = netsim.simulate(net, params, images, rtl, build, stall=0.3, seed=5)
    assert stalled.exact, stalled.mismatch
    assert stalled.ii > figures.ii  # the stalls did slow it down
    # the stream is what the unit computes with: one inverted word in the file fails at p1
    words = (rtl / "weights" / "p1.memh").read_text().split()
    words[3] = f"{int(words[3], 16) ^ ((1 << (4 * len(words[3]))) - 1):0{len(words[3])}x}"
    (rtl / "weights" / "p1.memh").write_text("\n".join(words) + "\n")
    corrupted = netsim.simulate(net, params, images, rtl, build)
    assert corrupted.mismatch is not None and corrupted.mismatch.layer == "p1"


@pytest.mark.verilator
def test_a_top_with_weight_streams_lints_clean(tmp_path):
    from mbdsl.backends.rtl.verilator import lint
    from mbdsl.output import write_tree
    net = _net()
    write_tree(str(tmp_path), backends.generate("rtl", net, make_params(net)))
    clean, messages = lint(sorted((tmp_path / "hdl").glob("*.sv")) + [tmp_path / "tinys_top.sv"], "tinys_top")
    assert clean, messages


@pytest.mark.parametrize("command", [["fold", "--device", "LFE5U-85F"], ["impl"]])
def test_fold_and_impl_refuse_streams_on_a_board_without_offchip_memory(command, tmp_path, capsys):
    """The spec names no device; the one given on the command line (impl: ECP5 by default) has none."""
    from mbdsl.cli import main
    spec = tmp_path / "tinys.mbn"
    spec.write_text(SPEC % (4, "stream", "rom", ""))
    out = tmp_path / "out"
    assert main([command[0], str(spec), *command[1:], "-o", str(out)]) == 2
    assert "error: layer p1 streams its weights from off-chip memory (weights = stream), and the device LFE5U-85F" in capsys.readouterr().err
    assert not out.exists()
