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
from mbdsl.errors import MbdslError, UnsupportedByBackend
from mbdsl.frontend import load
from mbdsl.images import random_images
from mbdsl.params import Params, make_params
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


@pytest.mark.gcc
def test_csim_bit_exact_every_layer(simulated):
    net, params, _, _, images, result = simulated
    assert result.outputs.shape[0] == IMAGES
    assert csim.compare(net, params, images, result) == []
    assert len(result.traces[0]) == len(net.layers)


@pytest.mark.gcc
def test_test_images_spread_activations(simulated):
    """The comparison proves something only if activations use many of their codes."""
    net, params, _, _, images, _ = simulated
    outs = reference.run_batch(net, params, images)
    for layer, out in zip(net.layers, outs):
        if isinstance(layer, (ir.Conv, ir.DwConv)) and layer.act_type is not None:
            codes = np.unique(out).size
            assert codes >= min(layer.act_type.levels, 8), (layer.name, codes)


@pytest.mark.gcc
def test_mismatch_names_first_diverging_layer(simulated):
    net, params, _, _, images, result = simulated
    victim = next(l for l in net.layers[3:] if isinstance(l, (ir.Conv, ir.DwConv)))
    lp = params[victim.name]
    w = lp.weights.copy()
    w.reshape(-1)[:: max(1, w.size // 64)] *= -1
    bad = Params({**params.layers, victim.name: attrs.evolve(lp, weights=w)})
    found = csim.compare(net, bad, images, result)
    assert found and all(m.layer == victim.name for m in found)
    assert re.match(rf"image \d: layer {re.escape(victim.name)} \(.*:\d+\) differs in \d+ of \d+ values", str(found[0]))


@pytest.mark.gcc
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


def _pipelined_loops(code: str) -> list[str]:
    """The bodies of the loops that hold a ``#pragma HLS PIPELINE``, comments removed."""
    code = re.sub(r"//[^\n]*", "", code)
    bodies = []
    for m in re.finditer(r"#pragma HLS PIPELINE", code):
        start = code.index("{", code.rindex("for (", 0, m.start()))
        depth = 0
        for end in range(start, len(code)):
            depth += {"{": 1, "}": -1}.get(code[end], 0)
            if depth == 0:
                break
        bodies.append(code[start : end + 1])
    return bodies


@pytest.mark.gcc
def test_pipelined_loops_have_no_division(simulated):
    """Written for II=1: inside a pipelined loop no division or modulo, except by a power
    of two (a shift or a mask in hardware)."""
    _, _, files, _, _, _ = simulated
    sources = [k for k in files if k.endswith((".cpp", ".h")) and not k.startswith("tb/")]
    loops = [body for k in sources for body in _pipelined_loops(files[k])]
    assert len(loops) >= len([k for k in sources if k.startswith("layers/")])
    for body in loops:
        for divisor in re.findall(r"[/%]\s*([\w.]+)", body):
            assert divisor.isdigit() and int(divisor) & (int(divisor) - 1) == 0, (divisor, body[:400])
    # the check sees what the window generator used to do
    old = "for (int oy = 0; oy < 9; oy++) {\n for (int i = 0; i < n; i++) {\n#pragma HLS PIPELINE II=1\n y = pos / K; // a / b\n }\n}\n"
    assert [re.findall(r"[/%]\s*([\w.]+)", b) for b in _pipelined_loops(old)] == [["K"]]


@pytest.mark.gcc
def test_dependence_assertions(simulated):
    """The only ``dependent=false`` is the window generator's ring (its proof is in the
    code: write slots base + K + j, read slots base + ky); the others give the true distance."""
    _, _, files, _, _, _ = simulated
    for k, code in files.items():
        if not isinstance(code, str):
            continue
        for pragma in re.findall(r"#pragma HLS DEPENDENCE [^\n]*", code):
            if "dependent=false" in pragma:
                assert pragma == "#pragma HLS DEPENDENCE variable=buf type=inter dependent=false" and "_swg(" in code, (k, pragma)
            else:
                assert re.fullmatch(r"#pragma HLS DEPENDENCE variable=\w+ type=inter dependent=true distance=[\w-]+", pragma), (k, pragma)


@pytest.mark.slow
def test_generation_is_deterministic():
    net, params = _net(SMALL[0])
    assert hls.generate(net, params) == hls.generate(net, params)


@pytest.mark.slow
def test_gen_command_writes_hls_tree(tmp_path):
    assert main(["gen", os.path.join(ROOT, SMALL[0]), "--target", "hls", "-o", str(tmp_path)]) == 0
    out = tmp_path / "mobilenet_v1_w025_32" / "hls"
    assert (out / "mobilenet_v1_w025_32.cpp").exists() and (out / "mbdsl_hls.h").exists()
    assert (out / "layers" / "b13_pw.cpp").exists() and (out / "tb" / "tb.cpp").exists()


@pytest.mark.gcc
def test_csim_command(build_root, tmp_path, capsys):
    # Same build directory as the module's builds: the objects are cached, only the link runs.
    spec = os.path.join(ROOT, SMALL[2])
    ap_types = csim.find_ap_types()
    rc = main(["csim", spec, "--images", "2", "-o", str(tmp_path), "--build-dir", build_root, "--ap-types", ap_types])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert f"ap types from {ap_types}" in out.replace("\n", "")
    assert "bit-exact on 2 image(s)" in out
    assert re.search(r"compile time: [\d.]+ s", out) and re.search(r"run time per image: [\d.]+ ms", out)


def _widened(net, widths: dict[str, int]):
    layers = tuple(attrs.evolve(l, acc_type=IntType(widths[l.name], True)) if l.name in widths else l for l in net.layers)
    return net.replace_layers(layers)


@pytest.mark.gcc
def test_wide_accumulators_are_emitted_and_bit_exact(build_root):
    """Past 64 bits (and past the vendor's default 1024): the declared widths are emitted
    as they are, and the C simulation is still bit-exact."""
    net, params = _net(SMALL[0])
    wide = _widened(net, {"b2.dw": 80, "b3.pw": 1100})
    files = hls.generate(wide, params)
    assert "ap_int<80> acc[" in files["layers/b2_dw.cpp"] and "ap_int<1100> acc[" in files["layers/b3_pw.cpp"]
    top_h = files[f"{wide.name}.h"]
    assert top_h.index("#define AP_INT_MAX_W 1100") < top_h.index('#include "mbdsl_hls.h"')
    assert "AP_INT_MAX_W" not in hls.generate(net, params)[f"{net.name}.h"]
    b = csim.build(files, os.path.join(build_root, "wide"))
    images = random_images(net.input, 1, seed=1)
    result = csim.run(b, wide, images, trace=True)
    assert csim.compare(wide, params, images, result) == []


def test_wide_requantization_product_is_emitted():
    net, params = _net(SMALL[2])
    layer = net.layers[1]
    lp = params[layer.name]
    files = hls.generate(net, Params({**params.layers, layer.name: attrs.evolve(lp, m0=1 << 50)}))
    prod = re.search(r"ap_int<(\d+)> prod = sum \* ", files["layers/b1_dw.cpp"])
    assert prod and int(prod.group(1)) > 64


def test_refuses_wider_than_vitis_allows():
    net, params = _net(SMALL[0])
    layer = net.layers[3]
    with pytest.raises(UnsupportedByBackend, match=r"^.*the accumulator of layer b2\.dw needs int5000, wider than the 4096-bit ap_int of Vitis HLS") as e:
        hls.generate(_widened(net, {layer.name: 5000}), params)
    assert e.value.span == layer.span and e.value.span is not None
    assert "narrow the weight or activation types" in e.value.hint


def test_refusal_is_a_located_cli_error(tmp_path, capsys, monkeypatch):
    net, params = _net(SMALL[0])
    spec = os.path.join(ROOT, SMALL[0])
    import mbdsl.commands.gen as gen

    real = gen.load_checked

    def widened(path):
        n = real(path)
        l = n.layers[0]
        return n.replace_layers((attrs.evolve(l, acc_type=IntType(5000, True)),) + n.layers[1:])

    monkeypatch.setattr(gen, "load_checked", widened)
    monkeypatch.setattr(gen, "make_params", lambda _net: params)  # those of the declared widths
    assert main(["gen", spec, "--target", "hls", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"mobilenet_v1_w0\.25_32\.mbn:\d+:\d+: error: the accumulator of layer conv0 needs int5000", err)
    assert "hint:" in err
    assert not (tmp_path / "mobilenet_v1_w025_32" / "hls").exists()
    del net
    assert issubclass(UnsupportedByBackend, MbdslError)
