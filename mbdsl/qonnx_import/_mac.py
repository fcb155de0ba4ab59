"""MAC layers from Conv, Gemm and MatMul nodes: kernel, stride, padding, groups, the
quantized weights and their per-output scale, and the float bias."""

from __future__ import annotations

import numpy as np

from .. import ir
from ..dtypes import IntType, bits_for_range
from ..semantics import accumulator_range
from ._errors import node_error
from ._graph import Graph, attr
from ._operands import MAX_BITS

__all__ = ["conv", "fc", "padding", "quantized_weights", "bias", "out_scale", "weight_type", "dense", "acc_range", "acc_type"]


def conv(g: Graph, node, in_type: IntType, chw):
    """A Conv node as a dense or depthwise layer: (layer, weights, weight scale per output, float bias)."""
    c, h, w = chw
    q = quantized_weights(g, node, 1)
    ints = q.ints
    if ints.ndim != 4:
        raise node_error(node, f"only 2-D convolutions are supported (weights of shape {list(ints.shape)})")
    o, ig, kh, kw = ints.shape
    group = int(attr(node, "group", 1))
    dil = attr(node, "dilations", [1, 1])
    if any(d != 1 for d in dil):
        raise node_error(node, f"dilation {list(dil)} is not supported", "use dilation 1")
    strides = attr(node, "strides", [1, 1])
    if len(set(strides)) != 1:
        raise node_error(node, f"strides {list(strides)} differ between height and width", "use one stride")
    if kh != kw:
        raise node_error(node, f"the {kh}x{kw} kernel is not square", "use a KxK kernel")
    k, stride = kh, int(strides[0])
    pad = padding(node, k, stride, h, w)
    ws = out_scale(node, q, axis=0)
    wt = weight_type(node, q.type)
    if group == 1:
        if ig != c:
            raise node_error(node, f"the weights take {ig} input channels, the input has {c}")
        layer = ir.Conv(name="", kernel=k, stride=stride, pad=pad, out_channels=o, weight_type=wt, act_type=None,
                        in_type=in_type)
        weights = ints.transpose(0, 2, 3, 1).copy()
    elif group == c and o == c and ig == 1:
        layer = ir.DwConv(name="", kernel=k, stride=stride, pad=pad, weight_type=wt, act_type=None, in_type=in_type)
        weights = ints[:, 0].copy()
    else:
        raise node_error(node, f"grouped convolution with group={group} ({c} -> {o} channels) is not supported",
                         "use group=1 (dense) or group=channels with as many outputs (depthwise)")
    if k > h + 2 * pad or k > w + 2 * pad:
        raise node_error(node, f"the {k}x{k} kernel does not fit its {h}x{w} input")
    return layer, weights, ws, bias(g, node, 2, o)


def padding(node, k: int, stride: int, h: int, w: int) -> int:
    """One symmetric padding equivalent to the node's (explicit or auto) padding."""
    auto = str(attr(node, "auto_pad", "NOTSET"))
    if auto in ("NOTSET", ""):
        pads = list(attr(node, "pads", [0, 0, 0, 0]))
    elif auto == "VALID":
        pads = [0, 0, 0, 0]
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size in (h, w):
            out = -(-size // stride)
            total = max(0, (out - 1) * stride + k - size)
            small, big = total // 2, total - total // 2
            pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
        pads = [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
    else:
        raise node_error(node, f"auto_pad {auto} is not supported")
    top, left, bottom, right = (int(p) for p in pads)
    if top != left:
        raise node_error(node, f"padding {pads} (top, left, bottom, right) differs between height and width",
                         "use the same padding on every side")
    p = top
    # Padding at the end that no window reaches changes nothing: accept it when the
    # output size is that of symmetric padding p.
    for size, end in ((h, bottom), (w, right)):
        if (size + p + end - k) // stride != (size + 2 * p - k) // stride:
            raise node_error(
                node,
                f"asymmetric padding {pads} (top, left, bottom, right) is not supported",
                "use the same padding on every side (e.g. padding=1 for a 3x3 kernel)",
            )
    if p >= k and k > 1 or (k == 1 and p > 0):
        raise node_error(node, f"padding {p} is not smaller than the {k}x{k} kernel")
    return p


def fc(g: Graph, node, in_type: IntType, chw):
    """A Gemm or MatMul node as a fully connected layer: (layer, weights in (H, W, C) input order, weight scale per
    output, float bias)."""
    c, h, w = chw
    q = quantized_weights(g, node, 1)
    if q.ints.ndim != 2:
        raise node_error(node, f"the weights have shape {list(q.ints.shape)}; a fully connected layer takes 2-D weights")
    if node.op_type == "Gemm":
        if attr(node, "transA", 0):
            raise node_error(node, "transA=1 is not supported")
        if not attr(node, "transB", 0):
            q = q.transpose((1, 0))
        alpha, beta = float(attr(node, "alpha", 1.0)), float(attr(node, "beta", 1.0))
    else:
        q = q.transpose((1, 0))
        alpha, beta = 1.0, 1.0
    if alpha <= 0:
        raise node_error(node, f"alpha {alpha} must be positive")
    o, i = q.ints.shape
    if i != c * h * w:
        raise node_error(node, f"the weights take {i} inputs, the input has {c}x{h}x{w} = {c * h * w}")
    ints = q.ints
    if h * w > 1:  # ONNX flattens (C, H, W); mbdsl streams (H, W, C)
        ints = ints.reshape(o, c, h, w).transpose(0, 2, 3, 1).reshape(o, -1)
    ws = out_scale(node, q, axis=0) * alpha
    layer = ir.FC(name="", out_channels=o, weight_type=weight_type(node, q.type), act_type=None, in_type=in_type)
    return layer, ints.copy(), ws, (bias(g, node, 2, o) * beta if node.op_type == "Gemm" else np.zeros(o))


def quantized_weights(g: Graph, node, index: int):
    """The quantized constant (integers, scale, type) on a weight input."""
    name = node.input[index] if len(node.input) > index else ""
    q = g.qconst(name)
    if q is None:
        raw = g.const(name)
        if raw is not None:
            raise node_error(node, "its weights are float, not quantized (no Quant node on the weight input)",
                             "quantize the weights (Brevitas QuantConv2d / QuantLinear) and export with QONNX")
        raise node_error(node, f"its weight input '{name}' is not a constant")
    return q


def bias(g: Graph, node, index: int, n: int) -> np.ndarray:
    """A constant bias input as n floats (zeros if absent)."""
    if len(node.input) <= index or not node.input[index]:
        return np.zeros(n)
    v = g.const(node.input[index])
    if v is None:
        raise node_error(node, f"its bias '{node.input[index]}' is not a constant")
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if v.size == 1:
        v = np.full(n, v[0])
    if v.size != n:
        raise node_error(node, f"its bias has {v.size} values for {n} outputs")
    return v


def out_scale(node, q, axis: int) -> np.ndarray:
    """Per-output-channel weight scale (constant over the other axes)."""
    s = np.moveaxis(q.scale, axis, 0).reshape(q.scale.shape[axis], -1)
    if not np.all(s == s[:, :1]):
        raise node_error(q.node if q.node is not None else node,
                         "its scale varies along a non-output axis of the weights; only per-tensor and "
                         "per-output-channel weight scales are supported")
    return s[:, 0].copy()


def weight_type(node, t: IntType) -> IntType:
    """The spec's type for quantized weights of type ``t`` (unsigned weights gain a sign bit)."""
    if t.bits > MAX_BITS or t.bits < 2:
        raise node_error(node, f"weights of {t.bits} bits are not supported", f"use 2 to {MAX_BITS} bit weights")
    if not t.signed:
        if t.bits + 1 > MAX_BITS:
            raise node_error(node, f"unsigned {t.bits}-bit weights need int{t.bits + 1}, wider than {MAX_BITS} bits")
        return IntType(t.bits + 1, True)
    return t



def dense(layer: ir.Layer, weights: np.ndarray) -> np.ndarray:
    """Weights as (O, K, K, I) for the preprocessing affine (depthwise: diagonal)."""
    if isinstance(layer, ir.Conv):
        return weights
    if isinstance(layer, ir.DwConv):
        c, k, _ = weights.shape
        d = np.zeros((c, k, k, c), dtype=np.int64)
        for i in range(c):
            d[i, :, :, i] = weights[i]
        return d
    return weights[:, None, None, :]


def acc_range(layer: ir.Layer, weights: np.ndarray) -> tuple[int, int]:
    """The range of the layer's integer accumulator."""
    return accumulator_range(int(np.prod(weights.shape[1:])), layer.weight_type, layer.in_type)


def acc_type(layer: ir.Layer, weights: np.ndarray) -> IntType:
    """The type of the layer's integer accumulator."""
    return bits_for_range(*acc_range(layer, weights))
