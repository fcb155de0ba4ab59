"""Quantization pass: input types along the stream and accumulator widths.

Accumulator types are derived from the bit widths and fan-in (the worst case over all
weights and inputs the types allow, plus the declared bias type of a raw-output layer), so
overflow is impossible by construction.
"""

from __future__ import annotations

import attrs

from .. import ir
from ..dtypes import INT32, bits_for_range
from ..errors import QuantError
from ..semantics import accumulator_range

__all__ = ["infer_types"]


def infer_types(net: ir.Network) -> ir.Network:
    stream = net.input.act_type  # type of the values entering the next layer
    raw = None  # a layer that emits raw accumulators; only a topk may follow it
    layers = []
    for layer in net.layers:
        if raw is not None and not isinstance(layer, ir.TopK):
            raise QuantError(
                f"layer {raw.name} outputs raw accumulators, but {layer.name} follows it",
                raw.span,
                f"give {raw.name} activations (e.g. 'activations uint4')",
            )
        if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            layer = _mac(net, attrs.evolve(layer, in_type=stream))
            if layer.act_type is None:
                raw = layer
            stream = layer.act_type or layer.acc_type
        elif isinstance(layer, ir.AvgPool):
            layer = _pool(net, layer, stream)
            stream = layer.act_type
        else:
            layer = attrs.evolve(layer, in_type=stream)
        layers.append(layer)
    return net.replace_layers(layers)


def _mac(net: ir.Network, layer):
    lo, hi = accumulator_range(layer.fan_in, layer.weight_type, layer.in_type)
    if layer.bias_type is not None:
        _check_bias(net, layer)
        lo, hi = lo + layer.bias_type.min, hi + layer.bias_type.max  # the sum starts at the bias
    acc = bits_for_range(lo, hi)
    if layer.acc_limit is not None and (lo < layer.acc_limit.min or hi > layer.acc_limit.max):
        raise QuantError(
            f"accumulator overflow in layer {layer.name}: {layer.fan_in} products of {layer.weight_type} x {layer.in_type} "
            f"reach [{lo}, {hi}], which needs {acc}; {layer.acc_limit} is too narrow",
            layer.span,
            f"write 'acc {acc}' or wider, or narrow the weight/activation types",
        )
    if net.quant_style == ir.MULTIPLIER and acc.bits > INT32.bits:
        raise QuantError(
            f"accumulator overflow in layer {layer.name}: {layer.fan_in} products of {layer.weight_type} x {layer.in_type} "
            f"reach [{lo}, {hi}], which needs {acc}; the multiplier style accumulates in int32",
            layer.span,
            f"narrow the weight or activation types, or reduce the fan-in of {layer.name} ({layer.fan_in} inputs per output)",
        )
    return attrs.evolve(layer, acc_type=acc)


def _check_bias(net: ir.Network, layer) -> None:
    if net.quant_style == ir.MULTIPLIER:
        raise QuantError(
            f"layer {layer.name} declares 'bias {layer.bias_type}', but the multiplier style gives every layer an int32 bias",
            layer.span,
            "drop 'bias'",
        )
    if layer.act_type is not None:
        raise QuantError(
            f"layer {layer.name} declares 'bias {layer.bias_type}', but its activations' thresholds already absorb any bias",
            layer.span,
            "drop 'bias': it applies to a layer that outputs raw accumulators (the classifier before topk)",
        )


def _pool(net: ir.Network, layer: ir.AvgPool, in_type) -> ir.AvgPool:
    n = layer.in_shape.h * layer.in_shape.w
    acc = bits_for_range(n * in_type.min, n * in_type.max)
    act = layer.act_type or in_type
    shift = layer.shift
    if net.quant_style == ir.THRESHOLDS:
        if shift is None:
            shift = layer.default_shift
    elif shift is not None:
        raise QuantError(
            f"'shift' of layer {layer.name} applies to the thresholds style; the multiplier style rescales the sum by m0/2^shift",
            layer.span,
            "drop 'shift'",
        )
    return attrs.evolve(layer, in_type=in_type, acc_type=acc, act_type=act, shift=shift)
