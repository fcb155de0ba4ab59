"""HLS C++ backend: generation, refusals, and C simulation bit-exact against the reference."""

from __future__ import annotations

import os
import re

import attrs
import numpy as np
import pytest

from mbdsl import ir, reference
from mbdsl.backends import hls
from mbdsl.backends.hls import csim
from mbdsl.cli import main
from mbdsl.dataflow import fifo_depth, input_beat, layer_cycles
from mbdsl.dtypes import IntType
from mbdsl.errors import MbdslError, QuantError
from mbdsl.frontend import load
from mbdsl.images import random_images
from mbdsl.params import LayerParams, Params, make_params
from mbdsl.passes import check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = [
    "specs/mobilenet_v1_w0.25_32.mbn",  # thresholds
    "specs/mobilenet_v1_w0.25_64.mbn",  # thresholds, fold(auto)
    "specs/mobilenet_v1_int8_w0.25_32.mbn",  # multiplier
    "specs/mobilenet_v1_nv12_w0.25_32.mbn",  # NV12 input, SIMD over kernel positions
]
IMAGES = 4


def _net(spec):
    net = check(load(os.path.join(ROOT, spec)))
    return net, make_params(net)


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("hls"))


@pytest.fixture(scope="module", params=SMALL, ids=lambda s: os.path.basename(s)[:-4])
def simulated(request, build_root):
    net, params = _net(request.param)
    files = hls.generate(net, params)
    b = csim.build(files, os.path.join(build_root, net.name))
    images = random_images(net.input, IMAGES, seed=0)
    result = csim.run(b, net, images, trace=True)
    return net, params, files, b, images, result


def test_csim_bit_exact_every_layer(simulated):
    net, params, _, _, images, result = simulated
    assert result.outputs.shape[0] == IMAGES
    assert csim.compare(net, params, images, result) == []
    assert len(result.traces[0]) == len(net.layers)


def test_test_images_spread_activations(simulated):
    """The comparison proves something only if activations use many of their codes."""
    net, params, _, _, images, _ = simulated
    outs = reference.run_batch(net, params, images)
    for layer, out in zip(net.layers, outs):
        if isinstance(layer, (ir.Conv, ir.DwConv)) and layer.act_type is not None:
            codes = np.unique(out).size
            assert codes >= min(layer.act_type.levels, 8), (layer.name, codes)


def test_mismatch_names_first_diverging_layer(simulated):
    net, params, _, _, images, result = simulated
    victim = next(l for l in net.layers[3:] if isinstance(l, (ir.Conv, ir.DwConv)))
    lp = params[victim.name]
    w = lp.weights.copy()
    w.reshape(-1)[:: max(1, w.size // 64)] *= -1
    bad = Params({**params.layers, victim.name: attrs.evolve(lp, weights=w)})
    found = csim.compare(net, bad, images, result)
    assert found and all(m.layer == victim.name for m in found)
    assert re.match(rf"image \d: layer {re.escape(victim.name)} \(.*:\d+\) differs in \d+ of \d+ values", found[0].describe())


def test_streams_and_pragmas(simulated):
    net, _, files, b, _, _ = simulated
    top = b.manifest["top"]
    code = files[f"{top}.cpp"]
    assert "#pragma HLS DATAFLOW" in code
    assert "#pragma HLS INTERFACE mode=axis port=in" in code and "#pragma HLS INTERFACE mode=axis port=out" in code
    depths = dict(re.findall(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", code))
    for layer, entry in zip(net.layers, b.manifest["layers"]):
        fn = entry["function"]
        assert entry["cycles"] == (layer_cycles(layer) if not isinstance(layer, ir.TopK) else layer.in_shape.size)
        stream = re.search(rf"\n    {fn}\((\w+), \w+\);", code).group(1)
        if stream != "in":
            assert int(depths[stream]) == fifo_depth(layer), layer.name
            beat = re.search(rf"hls::stream<mbdsl::vec<[^>]+>, (\d+)> > {stream}\(", code).group(1)
            assert int(beat) == input_beat(layer)
        layer_code = files[f"layers/{fn}.cpp"]
        assert "#pragma HLS PIPELINE II=1" in layer_code
        if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            assert "#pragma HLS ARRAY_PARTITION" in layer_code and "#pragma HLS UNROLL" in layer_code
            assert f"ap_int<{layer.acc_type.bits}> acc[{layer.fold.pe}]" in layer_code


def test_generation_is_deterministic():
    net, params = _net(SMALL[0])
    assert hls.generate(net, params) == hls.generate(net, params)


def test_gen_command_writes_hls_tree(tmp_path):
    assert main(["gen", os.path.join(ROOT, SMALL[0]), "--target", "hls", "-o", str(tmp_path)]) == 0
    out = tmp_path / "mobilenet_v1_w025_32" / "hls"
    assert (out / "mobilenet_v1_w025_32.cpp").exists() and (out / "mbdsl_hls.h").exists()
    assert (out / "layers" / "b13_pw.cpp").exists() and (out / "tb" / "tb.cpp").exists()


def test_csim_command(build_root, tmp_path, capsys):
    # Same build directory as the module's builds: the objects are cached, only the link runs.
    spec = os.path.join(ROOT, SMALL[2])
    rc = main(["csim", spec, "--images", "2", "-o", str(tmp_path), "--build-dir", build_root])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "bit-exact on 2 image(s)" in out
    assert re.search(r"compile time: [\d.]+ s", out) and re.search(r"run time per image: [\d.]+ ms", out)


def test_refuses_accumulator_wider_than_64_bits():
    net, params = _net(SMALL[0])
    i = 3
    layer = net.layers[i]
    wide = attrs.evolve(layer, acc_type=IntType(70, True))
    bad = net.replace_layers(net.layers[:i] + (wide,) + net.layers[i + 1 :])
    with pytest.raises(QuantError, match=r"^.*the accumulator of layer b2\.dw needs int70, wider than the 64-bit integers") as e:
        hls.generate(bad, params)
    assert e.value.span == layer.span and e.value.span is not None
    assert "narrow the weight or activation types" in e.value.hint


def test_refuses_requantization_product_wider_than_64_bits():
    net, params = _net(SMALL[2])
    layer = net.layers[1]
    lp = params[layer.name]
    bad = Params({**params.layers, layer.name: attrs.evolve(lp, m0=1 << 50)})
    with pytest.raises(QuantError, match=r"requantization product of layer b1\.dw needs int\d+") as e:
        hls.generate(net, bad)
    assert e.value.span == layer.span


def test_refusal_is_a_located_cli_error(tmp_path, capsys, monkeypatch):
    net, params = _net(SMALL[0])
    spec = os.path.join(ROOT, SMALL[0])
    import mbdsl.commands.gen as gen

    real = gen.load_checked

    def widened(path):
        n = real(path)
        l = n.layers[0]
        return n.replace_layers((attrs.evolve(l, acc_type=IntType(80, True)),) + n.layers[1:])

    monkeypatch.setattr(gen, "load_checked", widened)
    assert main(["gen", spec, "--target", "hls", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"mobilenet_v1_w0\.25_32\.mbn:\d+:\d+: error: the accumulator of layer conv0 needs int80", err)
    assert "hint:" in err
    assert not (tmp_path / "mobilenet_v1_w025_32" / "hls").exists()
    del net, params
    assert issubclass(QuantError, MbdslError) and issubclass(hls.HlsError, MbdslError)
