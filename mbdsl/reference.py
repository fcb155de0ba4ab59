"""The numpy reference: a checked network run on integers, layer by layer.

Every layer's arithmetic is :mod:`mbdsl.semantics`; this module only chains the calls,
converts the input, and batches images where that is free. Outputs are exact int64 arrays:
convolutions (H, W, C), the average pool (1, 1, C), a fully connected layer (O,), TopK the
k indices (k,).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from . import ir, semantics

if TYPE_CHECKING:
    from .params.model import LayerParams, Params

__all__ = [
    "prepare_input",
    "prepare_inputs",
    "accumulate",
    "activate",
    "run",
    "run_batch",
    "classify",
    "classify_batch",
]


def _input_error(net: ir.Network, message: str) -> ValueError:
    return ValueError(f"network {net.name!r}: {message}")


def prepare_input(net: ir.Network, image) -> np.ndarray:
    """The (H, W, C) uint8 pixels the first layer takes, from one input image.

    ``u8`` inputs are (H, W, C) arrays of values 0..255; ``nv12`` inputs are flat uint8
    arrays of H*W*3/2 bytes (the Y plane, then the interleaved UV plane), converted by
    :func:`mbdsl.semantics.nv12_to_rgb`.
    """
    shape = net.input.shape
    image = np.asarray(image)
    if image.dtype.kind not in "ui":
        raise _input_error(net, f"input image has dtype {image.dtype}; integer pixels are required")
    if image.size and (image.min() < 0 or image.max() > 255):
        raise _input_error(net, f"input pixels range {image.min()}..{image.max()}, outside 0..255")
    if net.input.format == "nv12":
        size = shape.h * shape.w * 3 // 2
        if image.shape != (size,):
            raise _input_error(
                net, f"an nv12 {shape.h}x{shape.w} frame is a flat array of {size} bytes, got shape {image.shape}"
            )
        y = image[: shape.h * shape.w].reshape(shape.h, shape.w)
        uv = image[shape.h * shape.w :].reshape(shape.h // 2, shape.w // 2, 2)
        return semantics.nv12_to_rgb(y, uv)
    if image.shape != (shape.h, shape.w, shape.c):
        raise _input_error(net, f"input image has shape {image.shape}, the network takes {shape} (H, W, C)")
    return image.astype(np.uint8, copy=False)


def prepare_inputs(net: ir.Network, images) -> np.ndarray:
    """:func:`prepare_input` over a sequence (or a stacked array) of images: (N, H, W, C)."""
    return np.stack([prepare_input(net, im) for im in images])


def _compact(x: np.ndarray) -> np.ndarray:
    """Activations in the narrowest numpy type that holds them (less memory traffic)."""
    if x.size == 0:
        return x
    lo, hi = int(x.min()), int(x.max())
    for dt in (np.uint8, np.int8, np.int16, np.int32):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            return x.astype(dt)
    return x


def accumulate(layer: ir.Layer, lp: LayerParams, xs: np.ndarray) -> np.ndarray:
    """Accumulators of a MAC layer (or pool sums) for a batch ``xs`` of inputs (N, ...)."""
    if isinstance(layer, ir.Conv):
        n, h, w, c = xs.shape
        if layer.is_pointwise:
            # A pointwise convolution treats every pixel alone: the batch stacked along H is
            # one image to it, so one matrix product serves every image.
            acc = semantics.conv2d(xs.reshape(n * h, w, c), lp.weights, 1, 0)
            return acc.reshape(n, h, w, -1)
        return np.stack([semantics.conv2d(x, lp.weights, layer.stride, layer.pad) for x in xs])
    if isinstance(layer, ir.DwConv):
        return np.stack([semantics.dwconv2d(x, lp.weights, layer.stride, layer.pad) for x in xs])
    if isinstance(layer, ir.FC):
        return np.stack([semantics.fully_connected(x, lp.weights) for x in xs])
    if isinstance(layer, ir.AvgPool):
        return np.stack([semantics.global_sum(x) for x in xs]).reshape(len(xs), 1, 1, -1)
    raise TypeError(f"layer {layer.name!r} ({type(layer).__name__}) does not accumulate")


def activate(net: ir.Network, layer: ir.Layer, lp: LayerParams, acc: np.ndarray) -> np.ndarray:
    """A layer's outputs from its accumulators (any leading batch axes, channels last)."""
    out = layer.act_type
    if isinstance(layer, ir.AvgPool):
        if out is None:
            return acc
        if net.quant_style == ir.MULTIPLIER:
            return semantics.requantize(acc, 0, lp.m0, lp.shift, out)
        return semantics.truncate_shift(acc, lp.shift, out)
    if out is None:
        return acc + lp.bias if lp.bias is not None else acc
    if net.quant_style == ir.MULTIPLIER:
        return semantics.requantize(acc, lp.bias, lp.m0, lp.shift, out)
    return semantics.multithreshold(acc, lp.thresholds, out)


def _run_batch(net: ir.Network, params: Params, xs: np.ndarray, compact: bool) -> list[np.ndarray]:
    outs = []
    for layer in net.layers:
        if isinstance(layer, ir.TopK):
            if xs.ndim != 2:
                xs = xs.reshape(len(xs), -1)
            xs = np.stack([semantics.topk(v, layer.k) for v in xs])
            outs.append(xs)
            continue
        lp = params[layer.name]
        y = activate(net, layer, lp, accumulate(layer, lp, xs))
        outs.append(y)
        xs = _compact(y) if compact else y
    return outs


_CHUNK_ELEMENTS = 1 << 21
"""Images per chunk of run_batch: enough to share matrix products on small networks, few
enough that a chunk's feature maps stay near the caches on large ones."""


def run_batch(net: ir.Network, params: Params, images) -> list[np.ndarray]:
    """Every layer's outputs for a batch of images: one (N, ...) int64 array per layer."""
    xs = prepare_inputs(net, images)
    largest = max([net.input.shape.size] + [l.out_shape.size for l in net.layers])
    chunk = max(1, _CHUNK_ELEMENTS // largest)
    parts = [_run_batch(net, params, xs[i : i + chunk], compact=True) for i in range(0, len(xs), chunk)]
    return [np.concatenate(p) for p in zip(*parts)]


def run(net: ir.Network, params: Params, image) -> list[np.ndarray]:
    """Every layer's output for one image, in layer order.

    The last output is the top-k class indices if the network ends with ``topk``, the
    logits (raw accumulators, plus the bias in multiplier style) otherwise.
    """
    return [o[0] for o in run_batch(net, params, [image])]


def classify(net: ir.Network, params: Params, image) -> np.ndarray:
    """The final output of one image: the top-k class indices, or the logits."""
    return run_batch(net, params, [image])[-1][0]


def classify_batch(net: ir.Network, params: Params, images: Sequence | np.ndarray) -> np.ndarray:
    """:func:`classify` over a batch: (N, k) or (N, classes)."""
    return run_batch(net, params, images)[-1]
