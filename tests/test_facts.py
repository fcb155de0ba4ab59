"""Facts that several modules use, each defined once: where former copies disagreed, the
corrected behaviour is pinned here (issue 14, item 2)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from mbdsl import backends, dataflow, ir, reference, semantics
from mbdsl.backends import hls
from mbdsl.backends.gap8._geometry import geometry
from mbdsl.backends.hls import csim
from mbdsl.backends.rtl import netsim, pack, top
from mbdsl.estimates import estimate
from mbdsl.frontend import load_string
from mbdsl.images import random_images
from mbdsl.output import write_tree
from mbdsl.params import make_params
from mbdsl.passes import check
from mbdsl.spec_writer import write_spec

# A 1x1 stride-2 convolution on a 6x6 map: it reads rows and columns 0, 2, 4 and never
# uses row 5, which the layers before it must still pass on. The fc declares a bias, so
# the thresholds-style memory includes a bias ROM.
STRIDED_1X1 = """
network s2pw {
  input 6x6x3 u8
  defaults { weights int4 narrow; activations uint4; quant thresholds }
  weights random(seed = 2)
  conv   c0 3x3 stride 1 pad 1 -> 4 fold(pe = 2, simd = 3)
  conv   c1 1x1 stride 2 -> 8 fold(pe = 2, simd = 2)
  pwconv p2 -> 8 fold(pe = 4, simd = 4)
  pwconv p3 stride 3 -> 4 fold(pe = 2, simd = 8)
  avgpool pool global
  fc     fc -> 4 bias int4 fold(pe = 2, simd = 2)
  topk   top 1
}
"""
IMAGES = 3


@pytest.fixture(scope="module")
def strided():
    net = check(load_string(STRIDED_1X1, "s2pw.mbn"))
    return net, make_params(net)


def _convs(net):
    return {l.name: l for l in net.layers if isinstance(l, ir.Conv)}


def test_pointwise_means_1x1_stride_1_everywhere(strided):
    """ir.Conv.kind called a 1x1 stride-2 conv 'pwconv' while the window generator, the
    reference and the GAP8 geometry did not; now every one asks Conv.is_pointwise."""
    net, _ = strided
    convs = _convs(net)
    assert {n: l.is_pointwise for n, l in convs.items()} == {"c0": False, "c1": False, "p2": True, "p3": False}
    t = net.input.act_type
    for layer in net.layers:
        if isinstance(layer, ir.Conv):
            assert layer.kind == ("pwconv" if layer.is_pointwise else "conv")
            assert (dataflow.window(layer) is None) == layer.is_pointwise, layer.name
            assert (geometry(net, layer, t).kind == "pw") == layer.is_pointwise, layer.name
        t = getattr(layer, "act_type", t)


def test_spec_writer_writes_pwconv_for_pointwise_layers_only(strided):
    net, _ = strided
    text = write_spec(net)
    kinds = {m.group(2): m.group(1) for m in re.finditer(r"^\s*(\w+) (\w+)\b", text, re.M)}
    assert (kinds["c1"], kinds["p2"], kinds["p3"]) == ("conv", "pwconv", "conv")
    again = check(load_string(text, "again.mbn"))
    assert again.layers == net.layers


def test_strided_1x1_reference_subsamples(strided):
    """The reference's 1x1 stride-2 conv is the pointwise product of every other pixel."""
    net, params = strided
    images = random_images(net.input, 2, seed=1)
    outs = reference.run_batch(net, params, images)
    x, y = outs[0], outs[1]
    w = params["c1"].weights
    acc = semantics.conv2d(x[:, ::2, ::2].reshape(-1, 1, x.shape[-1]), w, 1, 0).reshape(2, 3, 3, -1)
    assert y.shape == (2, 3, 3, 8)
    assert np.array_equal(y, semantics.multithreshold(acc, params["c1"].thresholds, net.layers[1].act_type))
    assert not np.array_equal(acc, semantics.conv2d(x[:, :3, :3].reshape(-1, 1, x.shape[-1]), w, 1, 0).reshape(2, 3, 3, -1))


@pytest.mark.gcc
def test_strided_1x1_hls_bit_exact_every_layer(strided, tmp_path):
    net, params = strided
    files = hls.generate(net, params)
    assert "c1_swg" in files["layers/c1.cpp"] and "p2_swg" not in files["layers/p2.cpp"]
    images = random_images(net.input, IMAGES, seed=0)
    result = csim.run(csim.build(files, str(tmp_path)), net, images, trace=True)
    assert csim.compare(net, params, images, result) == []


@pytest.mark.verilator
def test_strided_1x1_rtl_bit_exact_every_layer(strided, tmp_path):
    """Whole network in Verilator under stalls, every layer's trace compared. Before the
    harness ran on after the last output, the traces of c0 and c1 lacked the unused last
    row of the last frame and the comparison reported a divergence that was not there."""
    net, params = strided
    rtl, build = tmp_path / "rtl", tmp_path / "build"
    write_tree(str(rtl), backends.generate("rtl", net, params))
    assert "c1_swg" in (rtl / "s2pw_top.sv").read_text()
    netsim.build(rtl, build)
    images = random_images(net.input, IMAGES, seed=0)
    result = netsim.simulate(net, params, images, rtl, build, stall=0.3, seed=5, trace=True)
    assert result.mismatch is None, str(result.mismatch)
    assert result.exact
    assert len({tuple(o) for o in result.outputs}) > 1


def _rom_bits(files: dict, stage: top.Stage) -> int:
    """Bits of a MAC stage's threshold and bias ROM files as the RTL top instantiates them."""
    p = dict(stage.params)
    bits = 0
    for key, lanes in (("THRESH_FILE", p["N_THRES"]), ("BIAS_FILE", 1)):
        if p.get(key):
            words = files[p[key]].split()
            bits += len(words) * p["PE"] * lanes * p["ACC_BITS"]
    return bits


@pytest.mark.parametrize("spec", [None, "specs/mobilenet_v1_w0.25_32.mbn"], ids=["s2pw", "w025_32"])
def test_threshold_memory_estimate_is_what_the_rtl_stores(spec, strided):
    """estimates counted thresholds and biases at acc_type.bits, one bit less than the RTL
    stores them (acc_bits holds acc.max + 1, the threshold never reached)."""
    if spec is None:
        net, params = strided
    else:
        text = (Path(__file__).resolve().parents[1] / spec).read_text()
        net = check(load_string(text, spec))
        params = make_params(net)
    files = backends.generate("rtl", net, params)
    _, stages = top.plan(net)
    stored = {s.layer: _rom_bits(files, s) for s in stages if s.module in ("mbdsl_mvau", "mbdsl_vvau")}
    figures = {f.layer.name: f.threshold_bits for f in estimate(net).layers if f.layer.name in stored}
    assert figures == stored
    if spec is None:  # the fc's bias ROM is counted too
        assert stored["fc"] == 4 * net.layers[-2].acc_bits


def test_acc_bits_holds_the_never_reached_threshold():
    for lo, hi in [(-50, 50), (0, 0), (0, 127), (-128, 127), (-1, 0), (-(1 << 20), (1 << 20) - 1)]:
        b = semantics.acc_bits(lo, hi)
        assert -(1 << (b - 1)) <= lo and hi + 1 <= (1 << (b - 1)) - 1
        assert b == 1 or not (-(1 << (b - 2)) <= lo and hi + 1 <= (1 << (b - 2)) - 1), (lo, hi, b)
    assert semantics.acc_bits(-128, 127) == 9


def test_rtl_and_hls_weights_share_one_lane_layout(strided):
    """The RTL ROM word nf*SF + sf, lane p*SIMD + s and the HLS array weights[p][nf*SF + sf][s]
    hold the same weight W[nf*PE + p, sf*SIMD + s]."""
    net, params = strided
    files = hls.generate(net, params)
    for layer in net.layers:
        if not isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            continue
        f, bits = layer.fold, layer.weight_type.bits
        w = params[layer.name].weights.reshape(layer.matrix)
        rows, cols = w.shape
        nf, sf = rows // f.pe, cols // f.simd
        rtl = pack.unpack_words(pack.weight_words(w, f.pe, f.simd, bits), f.pe * f.simd, bits, True).reshape(nf, sf, f.pe, f.simd)
        m = re.search(rf"{layer.name}_weights\[(\d+)\]\[(\d+)\]\[(\d+)\] = \{{([^}}]*)\}};", files[f"layers/{layer.name}.cpp"])
        assert tuple(int(d) for d in m.groups()[:3]) == (f.pe, nf * sf, f.simd)
        hls_values = np.array([int(v) for v in re.findall(r"-?\d+", m.group(4))]).reshape(f.pe, nf * sf, f.simd)
        assert np.array_equal(hls_values.reshape(f.pe, nf, sf, f.simd).transpose(1, 2, 0, 3), rtl)
        p, s = f.pe - 1, f.simd - 1
        assert rtl[nf - 1, sf - 1, p, s] == w[(nf - 1) * f.pe + p, (sf - 1) * f.simd + s]


@pytest.mark.parametrize("side", [1, 2, 3, 5, 7, 8, 14])
def test_default_pool_shift_is_ceil_log2_of_the_pixels(side):
    text = STRIDED_1X1.replace("input 6x6x3", f"input {2 * side}x{2 * side}x3").replace("pwconv p3 stride 3 -> 4 fold(pe = 2, simd = 8)\n", "")
    net = check(load_string(text, "pool.mbn"))
    pool = next(l for l in net.layers if isinstance(l, ir.AvgPool))
    n = pool.in_shape.h * pool.in_shape.w
    assert n == side * side
    assert pool.shift == pool.default_shift == (int(np.ceil(np.log2(n))) if n > 1 else 0)
    assert make_params(net)["pool"].shift == pool.shift

