"""Seeded random weights, with activations calibrated on sample images layer by layer
through the reference (so that codes are spread, not all 0)."""

from __future__ import annotations

import math

import numpy as np

from .. import ir, reference
from ..dtypes import IntType
from ..errors import QuantError
from .model import INT32_LIMIT, LayerParams, Params, weight_shape

__all__ = ["sample_images", "random_weights", "choose_multiplier", "worst_abs", "pool_params", "calibration_count", "random_params"]


def _seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed % (1 << 64), spawn_key=key)


def sample_images(net: ir.Network, n: int, seed: int = 0) -> np.ndarray:
    """``n`` seeded random images in the network's input format.

    ``u8``: (n, H, W, C) uint8, uniform; ``nv12``: (n, H*W*3/2) uint8 random frames.
    """
    rng = np.random.default_rng(_seed_sequence(seed, 1))
    s = net.input.shape
    if net.input.format == "nv12":
        return rng.integers(0, 256, size=(n, s.h * s.w * 3 // 2), dtype=np.uint8)
    return rng.integers(0, 256, size=(n, s.h, s.w, s.c), dtype=np.uint8)


def random_weights(layer: ir.MacLayer, seed: int, index: int) -> np.ndarray:
    """Uniform integers over the layer's weight type (narrow range honoured), int64.

    Drawn from a generator keyed by (seed, layer index): a layer's weights do not change
    when another layer is edited.
    """
    rng = np.random.default_rng(_seed_sequence(seed, 0, index))
    wt = layer.weight_type
    return rng.integers(wt.min, wt.max + 1, size=weight_shape(layer), dtype=np.int64)


def _calibrate_thresholds(acc: np.ndarray, out: IntType, acc_type: IntType) -> np.ndarray:
    """Per-channel thresholds at the quantiles i/levels of the channel's accumulators."""
    c = acc.shape[-1]
    flat = acc.reshape(-1, c)
    qs = np.arange(1, out.levels) / out.levels
    t = np.ceil(np.quantile(flat, qs, axis=0)).T  # (C, levels-1), sorted: quantiles are monotone
    return np.clip(t, acc_type.min, acc_type.max).astype(np.int64)


def choose_multiplier(scale: float, worst: int, max_shift: int = 31) -> tuple[int, int]:
    """``(m0, shift)`` with ``m0 / 2**shift`` close to ``scale`` and m0 as large as possible.

    Subject to ``worst * m0 + 2**(shift-1) <= 2**31 - 1``, where ``worst`` bounds
    ``|acc + bias|``: the product and the rounding constant of ``round_shift`` then fit a
    32-bit signed integer, so a C implementation in int32 is exact. Raises ValueError if
    even ``m0 = 1`` overflows.
    """
    if scale <= 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    worst = max(int(worst), 1)
    for shift in range(max_shift, -1, -1):
        m0 = round(scale * (1 << shift))
        rnd = (1 << (shift - 1)) if shift else 0
        if m0 >= 1 and worst * m0 + rnd <= INT32_LIMIT:
            return m0, shift
    raise ValueError(f"no multiplier m0 >= 1 keeps {worst} * m0 inside 32 bits (scale {scale})")


def worst_abs(acc_type: IntType, bias) -> int:
    """max |acc + bias| over the accumulator type's range and every channel's bias."""
    bias = np.atleast_1d(np.asarray(bias, dtype=np.int64))
    return int(max(np.abs(acc_type.min + bias).max(), np.abs(acc_type.max + bias).max()))


def _calibrate_multiplier(layer: ir.MacLayer, acc: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Bias per channel (5% of outputs at 0), one m0/shift mapping the 99th percentile to max."""
    out = layer.act_type
    flat = acc.reshape(-1, acc.shape[-1])
    bias = -np.round(np.quantile(flat, 0.05, axis=0)).astype(np.int64)
    hi = float(np.quantile(flat + bias, 0.99))
    scale = out.max / hi if hi > 0 else 1.0
    try:
        m0, shift = choose_multiplier(scale, worst_abs(layer.acc_type, bias))
    except ValueError as e:
        raise QuantError(
            f"layer {layer.name!r}: accumulator type {layer.acc_type} is too wide for a 32-bit requantization",
            span=layer.span,
            hint="narrow the weights or activations, or reduce the fan-in",
        ) from e
    return bias, m0, shift


def pool_params(net: ir.Network, layer: ir.AvgPool) -> LayerParams:
    """Average pool parameters: the model's shift (thresholds style), or m0/shift
    approximating 1/(H*W) (multiplier style)."""
    n = layer.in_shape.h * layer.in_shape.w
    if net.quant_style != ir.MULTIPLIER:
        shift = layer.shift if layer.shift is not None else layer.default_shift
        return LayerParams(shift=shift)
    t = layer.in_type
    worst = n * max(abs(t.min), abs(t.max))
    m0, shift = choose_multiplier(1.0 / n, worst)
    return LayerParams(m0=m0, shift=shift)


def calibration_count(net: ir.Network) -> int:
    """Default number of calibration images: as many pixels as four 224x224 images, 4 to 64
    images. The layers after a global pool see one sample per channel and image, so small
    networks are calibrated on many images."""
    return max(4, min(64, 4 * 224 * 224 // (net.input.shape.h * net.input.shape.w)))


def random_params(net: ir.Network, images=None, n_images: int | None = None) -> Params:
    """Seeded random weights, activations calibrated on ``images`` (default: ``n_images``
    seeded random ones, :func:`calibration_count` if None), layer by layer through the
    reference."""
    seed = net.weights.seed
    if images is None:
        images = sample_images(net, n_images or calibration_count(net), seed)
    xs = reference.prepare_inputs(net, images)
    layers: dict[str, LayerParams] = {}
    for index, layer in enumerate(net.layers):
        if isinstance(layer, ir.TopK):
            layers[layer.name] = LayerParams()
            continue
        if isinstance(layer, ir.AvgPool):
            lp = pool_params(net, layer)
        else:
            w = random_weights(layer, seed, index)
            acc = reference.accumulate(layer, LayerParams(weights=w), xs)
            if layer.act_type is None:
                bias = None
                if net.quant_style == ir.MULTIPLIER or layer.bias_type is not None:
                    # Centre every logit: with random weights, no class wins every image.
                    bias = -np.round(np.median(acc.reshape(-1, acc.shape[-1]), axis=0)).astype(np.int64)
                    if layer.bias_type is not None:
                        bias = np.clip(bias, layer.bias_type.min, layer.bias_type.max)
                lp = LayerParams(weights=w, bias=bias)
            elif net.quant_style == ir.MULTIPLIER:
                bias, m0, shift = _calibrate_multiplier(layer, acc)
                lp = LayerParams(weights=w, bias=bias, m0=m0, shift=shift)
            else:
                lp = LayerParams(weights=w, thresholds=_calibrate_thresholds(acc, layer.act_type, layer.acc_type))
            layers[layer.name] = lp
            xs = reference.activate(net, layer, lp, acc)
            continue
        layers[layer.name] = lp
        xs = reference.activate(net, layer, lp, reference.accumulate(layer, lp, xs))
    return Params(layers)
