"""Reading an ONNX node's operands: constants per channel, scalars, the binary op's constant
side, an activation quantizer's parameters; and the refusal of an unsupported node."""

from __future__ import annotations

import numpy as np

from ._errors import node_error
from ._graph import QUANT_DOMAINS, ROUNDING_MODES, Graph, attr, quant_type

__all__ = ["MAX_BITS", "HINTS", "quant_params", "const_vec", "const_scalar", "operand", "unsupported", "channel_vector", "show"]

MAX_BITS = 8
"""Widest weight or activation type a spec may declare."""


def quant_params(g: Graph, node, shape, flat: bool):
    """(scale (C,), step (C,), type, rounding) of an activation Quant node."""
    if node.domain not in QUANT_DOMAINS:
        raise node_error(node, f"Quant of domain '{node.domain}' is not QONNX's")
    ch = shape[0]
    scale = const_vec(g, node, 1, ch, shape=shape, flat=flat)
    zeropt = const_vec(g, node, 2, ch, shape=shape, flat=flat)
    bits = const_scalar(g, node, 3)
    if np.any(zeropt != 0):
        raise node_error(node, "a non-zero zero point is not supported (mbdsl integers are symmetric)",
                         "quantize with zero_point = 0")
    if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
        raise node_error(node, "the scale must be positive and finite")
    signed, narrow = bool(attr(node, "signed", 1)), bool(attr(node, "narrow", 0))
    tp = quant_type(node, bits, signed, narrow)
    if tp.bits == 1 and signed:
        raise node_error(node, "1-bit signed (bipolar) activations are not supported", "use 2 to 8 bits")
    if not signed and narrow:
        raise node_error(node, "unsigned narrow-range activations (0 .. 2^bits - 2) are not supported",
                         "use narrow=0 for unsigned activations")
    if tp.bits > MAX_BITS:
        raise node_error(node, f"activations of {tp.bits} bits are not supported", f"use 2 to {MAX_BITS} bits")
    mode = str(attr(node, "rounding_mode", "ROUND")).upper()
    if mode not in ROUNDING_MODES:
        raise node_error(node, f"rounding mode {mode} is not supported", f"use one of {', '.join(ROUNDING_MODES)}")
    return scale, scale, tp, ROUNDING_MODES[mode]


def const_vec(g: Graph, node, index: int, ch: int, shape=None, flat: bool = False, vector: bool = False) -> np.ndarray:
    """A constant input as one value per channel; ``vector``: a (C,) array (BatchNorm)."""
    v = g.const(node.input[index]) if len(node.input) > index else None
    if v is None:
        raise node_error(node, f"its input {index} ('{node.input[index] if len(node.input) > index else ''}') is not a constant")
    if vector and np.asarray(v).shape == (ch,):
        return np.asarray(v, dtype=np.float64)
    return channel_vector(node, v, ch, flat)


def const_scalar(g: Graph, node, index: int) -> float:
    """A constant scalar input."""
    v = g.const(node.input[index])
    if v is None or np.asarray(v).size != 1:
        raise node_error(node, f"its input {index} must be a constant scalar")
    return float(np.asarray(v).reshape(()))


def operand(g: Graph, node, shape, flat: bool):
    """The constant operand of a binary node, per channel, and whether data comes first."""
    a, b = node.input[0], node.input[1]
    ca, cb = g.const(a), g.const(b)
    if ca is not None and cb is not None or ca is None and cb is None:
        raise node_error(node, "one operand must be a constant, the other the data")
    return channel_vector(node, cb if cb is not None else ca, shape[0], flat), cb is not None


def unsupported(node, where: str, hint: str | None = None):
    """The error refusing ``node`` at this point of the data path."""
    return node_error(node, f"{node.op_type} is not supported {where}", hint or HINTS.get(node.op_type))


HINTS = {
    "MaxPool": "mbdsl networks pool by a global average (TruncAvgPool2d)",
    "Add": "residual connections are not supported",
    "Concat": "branches are not supported",
    "Clip": "use QuantReLU (ReLU then an unsigned Quant) instead of a clipped ReLU",
    "QuantAvgPool2d": "export with QONNX (AveragePool, Mul, Trunc) instead of the FINN-ONNX format",
    "MultiThreshold": "import the QONNX export, not a FINN-streamlined graph",
    "BipolarQuant": "use 2 to 8 bit quantizers",
    "Sigmoid": "quantized ReLU activations are the supported nonlinearity",
}


def channel_vector(node, value, ch: int, flat: bool) -> np.ndarray:
    """A constant that broadcasts over an NCHW (or N,C) tensor, as one value per channel."""
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1:
        return np.full(ch, float(v.reshape(())))
    target = (1, ch) if flat else (1, ch, 1, 1)
    try:
        if v.ndim > len(target) or np.broadcast_shapes(v.shape, target) != target:
            raise ValueError
        return np.broadcast_to(v.reshape((1,) * (len(target) - v.ndim) + v.shape), target).reshape(ch).copy()
    except ValueError:
        raise node_error(node, f"constant of shape {list(v.shape)} is not one value per channel of {ch}") from None


def show(v) -> str:
    """The first values of an array, for a message."""
    v = np.asarray(v).reshape(-1)
    shown = ", ".join(f"{x:.6g}" for x in v[:4])
    return f"{shown}{', ...' if v.size > 4 else ''}"

