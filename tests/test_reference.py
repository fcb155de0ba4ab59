"""The numpy reference: chaining of the semantics, batching, input formats, errors."""

from __future__ import annotations

import numpy as np
import pytest

from mbdsl import ir, reference
from mbdsl import params as P
from mbdsl import semantics as S

from networks import spec, tiny

def expected_outputs(net, prm, x):
    """Each layer applied, through the semantics functions, to the previous layer's output."""
    outs = []
    for layer in net.layers:
        lp = prm[layer.name]
        if isinstance(layer, ir.Conv):
            acc = S.conv2d(x, lp.weights, layer.stride, layer.pad)
        elif isinstance(layer, ir.DwConv):
            acc = S.dwconv2d(x, lp.weights, layer.stride, layer.pad)
        elif isinstance(layer, ir.FC):
            acc = S.fully_connected(x, lp.weights)
        elif isinstance(layer, ir.AvgPool):
            acc = S.global_sum(x).reshape(1, 1, -1)
        else:
            x = S.topk(x, layer.k)
            outs.append(x)
            continue
        if layer.act_type is None:
            x = acc + (lp.bias if lp.bias is not None else 0)
        elif isinstance(layer, ir.AvgPool):
            if net.quant_style == ir.MULTIPLIER:
                x = S.requantize(acc, 0, lp.m0, lp.shift, layer.act_type)
            else:
                x = S.truncate_shift(acc, lp.shift, layer.act_type)
        elif net.quant_style == ir.MULTIPLIER:
            x = S.requantize(acc, lp.bias, lp.m0, lp.shift, layer.act_type)
        else:
            x = S.multithreshold(acc, lp.thresholds, layer.act_type)
        outs.append(x)
    return outs


@pytest.mark.parametrize("quant", ["thresholds", "multiplier"])
@pytest.mark.parametrize("signed", [False, True])
def test_run_chains_the_semantics(quant, signed):
    net = tiny(quant, signed=signed)
    prm = P.make_params(net)
    images = P.sample_images(net, 3, seed=2)
    for im in images:
        got = reference.run(net, prm, im)
        want = expected_outputs(net, prm, im)
        assert len(got) == len(net.layers)
        for layer, g, w in zip(net.layers, got, want):
            assert g.dtype == np.int64, layer.name
            assert np.array_equal(g, w), layer.name


@pytest.mark.parametrize("quant", ["thresholds", "multiplier"])
def test_output_shapes_and_ranges(quant):
    net = tiny(quant, signed=True)
    prm = P.make_params(net)
    outs = reference.run(net, prm, P.sample_images(net, 1, seed=3)[0])
    for layer, y in zip(net.layers, outs):
        s = layer.out_shape
        if isinstance(layer, ir.TopK):
            assert y.shape == (layer.k,)
            assert len(set(y.tolist())) == layer.k and y.min() >= 0 and y.max() < layer.in_shape.c
        elif isinstance(layer, ir.FC):
            assert y.shape == (s.c,)
            assert layer.acc_type.allowed(y - (prm[layer.name].bias if quant == "multiplier" else 0))
        else:
            assert y.shape == (s.h, s.w, s.c), layer.name
            assert layer.act_type.allowed(y), layer.name
    assert outs[4].min() < 0  # the signed layer does emit negative codes


def test_final_fc_adds_its_bias_in_multiplier_style():
    net = tiny("multiplier")
    prm = P.make_params(net)
    im = P.sample_images(net, 1, seed=4)[0]
    outs = reference.run(net, prm, im)
    acc = S.fully_connected(outs[-3], prm["fc"].weights)
    assert np.any(prm["fc"].bias != 0)
    assert np.array_equal(outs[-2], acc + prm["fc"].bias)
    assert np.array_equal(outs[-1], S.topk(acc + prm["fc"].bias, 3))


def test_run_batch_and_classify_agree_with_run():
    net = tiny()
    prm = P.make_params(net)
    images = P.sample_images(net, 5, seed=6)
    batch = reference.run_batch(net, prm, images)
    for i, im in enumerate(images):
        single = reference.run(net, prm, im)
        for b, s in zip(batch, single):
            assert np.array_equal(b[i], s)
        assert np.array_equal(reference.classify(net, prm, im), single[-1])
    assert np.array_equal(reference.classify_batch(net, prm, images), batch[-1])


def test_run_batch_chunks_large_inputs(monkeypatch):
    net = tiny()
    prm = P.make_params(net)
    images = P.sample_images(net, 5, seed=7)
    whole = reference.run_batch(net, prm, images)
    monkeypatch.setattr(reference, "_CHUNK_ELEMENTS", 1)  # one image per chunk
    chunked = reference.run_batch(net, prm, images)
    assert all(np.array_equal(a, b) for a, b in zip(whole, chunked))


def test_nv12_input_is_converted_by_bt601():
    net = tiny(fmt="nv12")
    assert net.input.format == "nv12"
    prm = P.make_params(net)
    frame = P.sample_images(net, 1, seed=8)[0]
    assert frame.shape == (12 * 12 * 3 // 2,)
    rgb = S.nv12_to_rgb(frame[:144].reshape(12, 12), frame[144:].reshape(6, 6, 2))
    assert np.array_equal(reference.prepare_input(net, frame), rgb)
    # the same layers on the converted image, as a u8 network with the same parameters
    u8 = tiny(fmt="u8")
    a, b = reference.run(net, prm, frame), reference.run(u8, prm, rgb)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_bad_inputs_are_refused():
    net = tiny()
    prm = P.make_params(net)
    with pytest.raises(ValueError, match=r"input image has shape \(12, 12\), the network takes 12x12x3"):
        reference.run(net, prm, np.zeros((12, 12), np.uint8))
    with pytest.raises(ValueError, match=r"input pixels range -100\.\.331, outside 0\.\.255"):
        reference.run(net, prm, np.arange(432).reshape(12, 12, 3) - 100)
    with pytest.raises(ValueError, match=r"dtype float64; integer pixels are required"):
        reference.run(net, prm, np.zeros((12, 12, 3)))
    nv = tiny(fmt="nv12")
    with pytest.raises(ValueError, match=r"an nv12 12x12 frame is a flat array of 216 bytes"):
        reference.run(nv, prm, np.zeros((12, 12, 3), np.uint8))


@pytest.mark.parametrize("name", ["mobilenet_v1_w0.25_32.mbn", "mobilenet_v1_int8_w0.25_32.mbn",
                                  "mobilenet_v1_nv12_w0.25_32.mbn"])
def test_small_mobilenets_run_and_vary(name):
    net = spec(name)
    prm = P.make_params(net)
    images = P.sample_images(net, 8, seed=9)
    tops = reference.classify_batch(net, prm, images)
    assert tops.shape == (8, net.layers[-1].k)
    # random weights, calibrated activations: not every image gets the same answer
    assert len({tuple(t) for t in tops.tolist()}) > 1
    im = images[0]
    assert all(np.array_equal(a, b) for a, b in zip(
        reference.run(net, prm, im), expected_outputs(net, prm, reference.prepare_input(net, im))))
