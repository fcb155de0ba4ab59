"""Shape inference: every layer's input and output feature map."""

from __future__ import annotations

import attrs

from .. import ir
from ..dataflow import with_pixels
from ..errors import ShapeError, SpecStructureError
from ..semantics import window_out

__all__ = ["infer_shapes"]


def _conv_out(layer, shape: ir.Shape) -> tuple[int, int]:
    k, s, p = layer.kernel, layer.stride, layer.pad
    if p >= k and k > 1 or (k == 1 and p > 0):
        raise ShapeError(f"padding {p} is not smaller than the {k}x{k} kernel of layer {layer.name}", layer.span, f"use pad 0..{max(0, k - 1)}")
    if k > shape.h + 2 * p or k > shape.w + 2 * p:
        raise ShapeError(
            f"the {k}x{k} kernel of layer {layer.name} does not fit its {shape.h}x{shape.w} input (padding {p})",
            layer.span,
            "use a smaller kernel, more padding, or a larger input",
        )
    return window_out(shape.h, k, s, p), window_out(shape.w, k, s, p)


def infer_shapes(net: ir.Network) -> ir.Network:
    shape = net.input.shape
    layers = []
    for i, layer in enumerate(net.layers):
        if layers and isinstance(layers[-1], ir.TopK):
            raise SpecStructureError(f"layer {layer.name} follows topk {layers[-1].name}, which must be the last layer", layer.span, "move topk to the end")
        if isinstance(layer, ir.Conv):
            oh, ow = _conv_out(layer, shape)
            out = ir.Shape(oh, ow, layer.out_channels)
        elif isinstance(layer, ir.DwConv):
            oh, ow = _conv_out(layer, shape)
            out = ir.Shape(oh, ow, shape.c)
        elif isinstance(layer, ir.FC):
            out = ir.Shape(1, 1, layer.out_channels)
        elif isinstance(layer, ir.AvgPool):
            out = ir.Shape(1, 1, shape.c)
        elif isinstance(layer, ir.TopK):
            if shape.h * shape.w != 1:
                raise ShapeError(f"topk {layer.name} needs a vector of class scores, not a {shape} feature map", layer.span, "put an avgpool and an fc before it")
            if layer.k > shape.c:
                raise ShapeError(f"topk {layer.k} of only {shape.c} classes", layer.span, f"use topk 1..{shape.c}")
            out = ir.Shape(1, 1, layer.k)
        else:  # pragma: no cover - the elaborator builds only the kinds above
            raise TypeError(layer)
        layers.append(attrs.evolve(layer, in_shape=shape, out_shape=out))
        shape = out
    return with_pixels(net.replace_layers(layers), net.input.pixels)
