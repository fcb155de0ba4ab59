"""One first-divergence report for every backend: a difference planted in each backend's own
output format (RTL trace words, HLS int64 traces, GAP8 host per-layer buffers) is found at
its layer, image and element, and reported in the same words."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mbdsl import ir, reference
from mbdsl.backends.gap8 import host
from mbdsl.backends.hls import csim
from mbdsl.backends.rtl import netsim, pack, top
from mbdsl.divergence import first_divergence
from mbdsl.params import make_params
from mbdsl.images import random_images
from networks import tiny


@pytest.fixture(scope="module")
def case():
    net = tiny()
    params = make_params(net)
    images = random_images(net.input, 3, seed=4)
    return net, params, images, reference.run_batch(net, params, images)


def _victim(net) -> int:
    return next(i for i, l in enumerate(net.layers) if isinstance(l, ir.DwConv) and i > 1)


def _plant(a: np.ndarray, flat: int) -> tuple[np.ndarray, int, int]:
    """A copy of ``a`` with element ``flat`` changed (staying in range); the old and new value."""
    out = np.array(a, dtype=np.int64, copy=True)
    old = int(out.reshape(-1)[flat])
    new = old + 1 if old < out.max() else old - 1
    out.reshape(-1)[flat] = new
    return out, old, new


def _expect(d, net, ref, layer_index: int, image: int, flat: int, got: int, want: int, backend: str):
    layer = net.layers[layer_index]
    shape = np.asarray(ref[layer_index][image]).shape
    assert d is not None
    assert (d.layer, d.image, d.got, d.want, d.count) == (layer.name, image, got, want, 1)
    assert d.index == tuple(int(v) for v in np.unravel_index(flat, shape))
    assert d.span == layer.span
    text = str(d)
    assert re.fullmatch(
        rf"image {image}: layer {re.escape(layer.name)} \(tiny\.mbn:\d+\) differs in 1 of \d+ values; "
        rf"first at index \({', '.join(map(str, d.index))},?\): {backend} {got}, reference {want}",
        text,
    ), text


def test_identical_outputs_have_no_divergence(case):
    net, _, images, ref = case
    assert first_divergence("HLS", 0, [(layer, ref[k][0], ref[k][0]) for k, layer in enumerate(net.layers)]) is None


def test_hls_traces(case):
    net, params, images, ref = case
    i = _victim(net)
    traces = [[np.asarray(ref[k][n]).reshape(-1) for k in range(len(net.layers))] for n in range(len(images))]
    flat = ref[i][1].size // 2 + 1
    planted, want, got = _plant(traces[1][i], flat)
    traces[1][i] = planted
    # What the layer after would compute on the wrong input differs as well: only the first may be named.
    traces[1][i + 1] = traces[1][i + 1] + 1
    run = csim.Run(np.stack([t[-1] for t in traces]), traces, [0.0] * len(images))
    found = csim.compare(net, params, images, run)
    assert len(found) == 1
    _expect(found[0], net, ref, i, 1, flat, got, want, "HLS")


def test_hls_output_only(case):
    net, params, images, ref = case
    outputs = np.stack([np.asarray(ref[-1][n]).reshape(-1) for n in range(len(images))])
    outputs[2, 0] += 5
    found = csim.compare(net, params, images, csim.Run(outputs, None, [0.0] * len(images)))
    assert [str(d) for d in found] == [
        f"image 2: the output differs in 1 of {outputs.shape[1]} values; first at index (0,): "
        f"HLS {outputs[2, 0]}, reference {outputs[2, 0] - 5}"
    ]


def test_gap8_host_layers(case):
    net, params, images, ref = case
    i = _victim(net)
    layers = [{k: np.asarray(ref[k][n]).reshape(-1) for k in range(len(net.layers))} for n in range(len(images))]
    flat = 3
    layers[0][i], want, got = _plant(layers[0][i], flat)
    del layers[0][i - 1]  # a layer fused into the next step has no output: not compared
    results = [np.asarray(ref[-1][n]).reshape(-1) for n in range(len(images))]
    d = host.compare(net, params, images, host.HostRun(layers, results, [0.0] * len(images), 0.0))
    _expect(d, net, ref, i, 0, flat, got, want, "host")


def test_gap8_host_result_copy_out(case):
    net, params, images, ref = case
    layers = [{k: np.asarray(ref[k][n]).reshape(-1) for k in range(len(net.layers))} for n in range(len(images))]
    results = [np.asarray(ref[-1][n]).reshape(-1).copy() for n in range(len(images))]
    results[1] = results[1][:-1]
    d = host.compare(net, params, images, host.HostRun(layers, results, [0.0] * len(images), 0.0))
    assert d is not None and d.layer is None and d.sizes_differ
    assert str(d) == f"image 1: the network result copied out has {results[1].size} values from the host, the reference {results[1].size + 1}"


def test_rtl_trace_words(case, tmp_path):
    """The RTL traces each layer as packed stream words, every frame one after the other."""
    net, params, images, ref = case
    head, stages = top.plan(net)
    manifest = top.manifest(net, head, stages)
    by_name = {l.name: k for k, l in enumerate(net.layers)}
    i = _victim(net)
    flat = ref[i][0].size - 2
    (tmp_path / "trace").mkdir()
    for t in manifest["traces"]:
        k = by_name[t["layer"]]
        frames = [np.asarray(ref[k][n]) for n in range(len(images))]
        if k == i:
            frames[2], want, got = _plant(frames[2], flat)
        words = pack.tensor_to_beats(np.concatenate([f.reshape(-1) for f in frames]), t["elems"], t["bits"])
        (tmp_path / t["file"]).write_text("".join(f"{w:x}\n" for w in words))
    traces = [reference.run(net, params, image) for image in images]
    outputs = [t[-1].reshape(-1) for t in traces]
    d = netsim.compare_traces(net, manifest, tmp_path, traces, outputs, traced=True)
    _expect(d, net, ref, i, 2, flat, got, want, "RTL")
    # Untraced, the same run compares the output only; a frame the top never produced is named.
    assert netsim.compare_traces(net, manifest, tmp_path, traces, outputs, traced=False) is None
    d = netsim.compare_traces(net, manifest, tmp_path, traces, outputs[:2], traced=False)
    assert (d.image, d.layer, d.sizes_differ) == (2, None, True)
