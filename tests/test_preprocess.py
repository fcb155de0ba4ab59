"""Folding float preprocessing + BatchNorm + quantized ReLU into integer thresholds.

Each test runs the float model (normalize the pixels, float convolution, affine, round,
clip) next to the integer one (raw pixels, semantics.conv2d, semantics.multithreshold on the
folded thresholds) and requires equal codes except at ties: outputs whose ``y / step``
lies within float rounding of a rounding boundary. Ties are counted.
"""

from __future__ import annotations

import numpy as np
import pytest

from mbdsl import semantics as S
from mbdsl.dtypes import IntType, UINT8, bits_for_range
from mbdsl.ir import Preprocess
from mbdsl.preprocess import fold_first_layer, fold_thresholds, preprocess_affine, quantize

UINT4 = IntType(4, False)
INT8 = IntType(8, True)
INT8N = IntType(8, True, narrow=True)
INT4N = IntType(4, True, narrow=True)
FINN = Preprocess(scale=1 / 255, mean=(0.485, 0.456, 0.406), std=(0.226,))


def float_conv(x, w, stride, pad):
    """Float convolution of float inputs (H, W, I) with float weights (O, K, K, I)."""
    o, k, _, i = w.shape
    x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    oh, ow = (x.shape[0] - k) // stride + 1, (x.shape[1] - k) // stride + 1
    out = np.zeros((oh, ow, o))
    for r in range(k):
        for c in range(k):
            out += x[r : r + stride * (oh - 1) + 1 : stride, c : c + stride * (ow - 1) + 1 : stride] @ w[:, r, c, :].T
    return out


def near_tie(q, rounding, eps=1e-9):
    """Where q = y / step is within eps of a boundary of the rounding rule."""
    frac = q - np.floor(q)
    if rounding == "floor":
        return np.minimum(frac, 1 - frac) < eps
    return np.abs(frac - 0.5) < eps


def float_first_layer(images, w, w_scale, pre, stride, pad, a, b, step, out, rounding):
    """The float model: codes and y / step for each image."""
    mean = np.broadcast_to(np.asarray(pre.mean, float), (w.shape[3],))
    std = np.broadcast_to(np.asarray(pre.std, float), (w.shape[3],))
    wf = w * np.asarray(w_scale, float)[:, None, None, None]
    qs = []
    for im in images:
        x = (im.astype(float) * pre.scale - mean) / std
        y = a * float_conv(x, wf, stride, pad) + b
        qs.append(y / step)
    q = np.stack(qs)
    return quantize(q, 1.0, out, rounding), q


def compare(images, w, w_scale, pre, stride, pad, a, b, step, out, weight_type, rounding="half_even"):
    """(mismatches, ties, codes) of the integer pipeline against the float one."""
    folded = fold_first_layer(w, w_scale, pre, out, pad=pad, a=a, b=b, step=step,
                              weight_type=weight_type, rounding=rounding)
    acc_type = bits_for_range(*S.accumulator_range(int(np.prod(w.shape[1:])), weight_type, UINT8))
    assert folded.thresholds.shape == (w.shape[0], out.levels - 1)
    assert np.all(np.diff(folded.thresholds, axis=1) >= 0)
    assert acc_type.allowed(folded.thresholds)
    ints = np.stack([S.multithreshold(S.conv2d(im, folded.weights, stride, pad), folded.thresholds, out)
                     for im in images])
    floats, q = float_first_layer(images, w, w_scale, pre, stride, pad, a, b, step, out, rounding)
    ties = near_tie(q, rounding) & (q > out.min - 0.5) & (q < out.max + 0.5)
    mismatch = ints != floats
    assert not np.any(mismatch & ~ties), "codes differ away from ties"
    return int(mismatch.sum()), int(ties.sum()), ints


def finn_like(seed, o=16, pad=0, pre=FINN, weight_type=INT8N):
    """Random int8 first-conv weights, per-channel scales and a BatchNorm mapping the float
    outputs over the 16 codes (with some channels of negative slope)."""
    r = np.random.default_rng(seed)
    w = r.integers(weight_type.min, weight_type.max + 1, (o, 3, 3, 3))
    w_scale = r.uniform(0.002, 0.02, o)
    images = r.integers(0, 256, (3, 17, 17, 3)).astype(np.uint8)
    # BatchNorm from the float outputs' spread on other images (so that codes spread)
    probe = r.integers(0, 256, (2, 17, 17, 3)).astype(np.uint8)
    _, z = float_first_layer(probe, w, w_scale, pre, 2, pad, 1.0, 0.0, 1.0, UINT4, "half_even")
    zlo, zhi = z.min(axis=(0, 1, 2)), z.max(axis=(0, 1, 2))
    sign = np.where(r.random(o) < 0.25, -1.0, 1.0)
    step = 0.1
    a = sign * 16 * step / (zhi - zlo)
    b = np.where(sign > 0, -a * zlo, -a * zhi) - step * r.uniform(0, 2, o)
    return images, w, w_scale, a, b, step


@pytest.mark.parametrize("rounding", ["half_even", "half_up", "floor"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_finn_first_layer_is_exact(seed, rounding):
    images, w, w_scale, a, b, step = finn_like(seed)
    mismatches, ties, codes = compare(images, w, w_scale, FINN, 2, 0, a, b, step, UINT4, INT8N, rounding)
    print(f"seed {seed} {rounding}: {codes.size} codes, {ties} ties, {mismatches} mismatches")
    assert mismatches <= ties
    # the comparison is not vacuous: the codes spread over the whole range
    assert len(np.unique(codes)) == 16
    assert np.bincount(codes.ravel()).max() < 0.5 * codes.size


def test_negative_slope_channels_are_negated():
    images, w, w_scale, a, b, step = finn_like(4)
    folded = fold_first_layer(w, w_scale, FINN, UINT4, a=a, b=b, step=step, weight_type=INT8N)
    assert np.array_equal(folded.negate, a < 0) and folded.negate.any()
    assert np.array_equal(folded.weights[a < 0], -w[a < 0])
    assert np.array_equal(folded.weights[a > 0], w[a > 0])


def test_exact_ties_follow_the_rounding_rule():
    """Dyadic parameters make the float model exact, so the ties are real and must match."""
    r = np.random.default_rng(5)
    w = r.integers(-3, 4, (6, 3, 3, 3))
    images = r.integers(0, 6, (4, 9, 9, 3)).astype(np.uint8)
    pre = Preprocess(scale=1.0, mean=(0.0,), std=(1.0,))
    a = np.array([1.0, 1.0, -1.0, 0.5, 2.0, -0.25])
    for rounding in ("half_even", "half_up", "floor"):
        mismatches, ties, _ = compare(images, w, np.ones(6), pre, 1, 1, a, 3.0, 4.0, UINT4, INT4N, rounding)
        print(f"{rounding}: {ties} exact ties, {mismatches} mismatches")
        assert ties > 100 and mismatches == 0


def test_padding_with_zero_mean_is_exact():
    pre = Preprocess(scale=1 / 255, mean=(0.0,), std=(0.226,))
    images, w, w_scale, a, b, step = finn_like(6, pad=1, pre=pre)
    mismatches, ties, codes = compare(images, w, w_scale, pre, 2, 1, a, b, step, UINT4, INT8N)
    assert mismatches <= ties and len(np.unique(codes)) == 16


def test_per_channel_mean_folds_into_the_offset():
    images, w, w_scale, a, b, step = finn_like(7)
    acc_scale, acc_offset = preprocess_affine(w, w_scale, FINN, pad=0)
    # a window of pixels equal to the mean (pixel = mean / scale) gives a float output of 0
    mean_pixels = np.array(FINN.mean) / FINN.scale
    acc = np.einsum("okji,i->o", w.astype(float), mean_pixels)
    assert np.allclose(acc_scale * acc + acc_offset, 0, atol=1e-9)
    assert np.allclose(acc_scale, w_scale / 255 / 0.226)


def test_refusals():
    w = np.ones((2, 3, 3, 3), dtype=np.int64)
    with pytest.raises(ValueError, match=r"padding 1 with mean \(0\.485, 0\.456, 0\.406\): the hardware pads raw"):
        preprocess_affine(w, 1.0, FINN, pad=1)
    std3 = Preprocess(scale=1 / 255, mean=(0.5,), std=(0.229, 0.224, 0.225))
    with pytest.raises(ValueError, match=r"std \(0\.229, 0\.224, 0\.225\) differs between input channels"):
        preprocess_affine(w, 1.0, std3)
    # one std repeated per channel is fine
    preprocess_affine(w, 1.0, Preprocess(scale=1.0, mean=(0.5,), std=(0.2, 0.2, 0.2)))
    # a negative slope needs negated weights; -128 has no int8 negation
    w8 = np.full((2, 3, 3, 3), 5)
    w8[1, 0, 0, 0] = -128
    with pytest.raises(ValueError, match=r"channels \[1\] have a negative slope .* leave int8; use a narrow-range"):
        fold_first_layer(w8, 1.0, FINN, UINT4, a=np.array([1.0, -1.0]), weight_type=INT8)
    with pytest.raises(ValueError, match=r"rounding must be one of"):
        quantize(np.zeros(2), 1.0, UINT4, "nearest")


def test_general_accumulator_hidden_layer():
    """A pointwise layer on uint4 codes of scale s_in, int4 weights of per-channel scale:
    the accumulator's float value is s_in * s_w[o] * acc (+ a float bias)."""
    r = np.random.default_rng(8)
    x = r.integers(0, 16, (200, 32))
    w = r.integers(-7, 8, (12, 32))
    s_in, s_w, bias = 0.05, r.uniform(0.01, 0.1, 12), r.normal(0, 1, 12)
    acc = x @ w.T
    z = (x * s_in) @ (w * s_w[:, None]).T + bias
    a = r.uniform(0.5, 2, 12) * np.where(np.arange(12) % 3 == 0, -1, 1)
    b = r.normal(0, 1, 12)
    q = (a * z + b) / 0.05
    rng = S.accumulator_range(32, INT4N, UINT4)
    folded = fold_thresholds(s_in * s_w, bias, UINT4, rng, a=a, b=b, step=0.05)
    sign = np.where(folded.negate, -1, 1)
    ints = S.multithreshold(acc * sign, folded.thresholds, UINT4)
    floats = quantize(q, 1.0, UINT4)
    ties = near_tie(q, "half_even")
    assert not np.any((ints != floats) & ~ties)
    assert len(np.unique(ints)) > 8


def test_constant_channel():
    """Zero slope: the code is constant; thresholds sit at the range's ends."""
    folded = fold_thresholds(np.array([0.0]), np.array([0.0]), UINT4, (-100, 100), b=np.array([5.2]))
    t = folded.thresholds[0]
    assert t.tolist() == [-100] * 5 + [101] * 10
    acc = np.arange(-100, 101)[:, None]
    assert set(S.multithreshold(acc, folded.thresholds, UINT4).ravel().tolist()) == {5}
