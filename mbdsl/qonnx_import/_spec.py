"""Imported layers -> named layers and the ``.mbn`` text, through :mod:`mbdsl.spec_writer`
(names, dwsep pairs, the ONNX nodes as comments, the preprocessing as the graph states it)."""

from __future__ import annotations

import collections
import re

import attrs
import numpy as np

from .. import ir
from ..spec_writer import FRACTIONS, dwsep_pair, write_spec
from ._model import Lowered, LoweredLayer

__all__ = ["FOLDS", "name_layers", "spec_text", "spec_name"]

FOLDS = ("auto", "none")
"""``auto``: ``fold(auto)`` in the defaults (the folding pass chooses PE/SIMD);
``none``: no fold (one lane per layer), to be edited by hand."""


def name_layers(layers: tuple[LoweredLayer, ...]) -> list[list[LoweredLayer]]:
    """Name every layer and group them into spec statements: a depthwise conv followed by a
    pointwise one that a ``dwsep`` statement builds becomes one (b1, b2, ...)."""
    groups: list[list[LoweredLayer]] = []
    i = 0
    while i < len(layers):
        if i + 1 < len(layers) and dwsep_pair(layers[i].layer, layers[i + 1].layer):
            groups.append([layers[i], layers[i + 1]])
            i += 2
        else:
            groups.append([layers[i]])
            i += 1
    counters: collections.Counter = collections.Counter()
    fcs = sum(1 for g in groups if isinstance(g[0].layer, ir.FC))
    named = []
    for g in groups:
        layer = g[0].layer
        if len(g) == 2:
            counters["b"] += 1
            names = [f"b{counters['b']}.dw", f"b{counters['b']}.pw"]
        elif isinstance(layer, ir.Conv):
            prefix = "pw" if layer.kernel == 1 else "conv"
            names = [f"{prefix}{counters[prefix]}"]
            counters[prefix] += 1
        elif isinstance(layer, ir.DwConv):
            names = [f"dw{counters['dw']}"]
            counters["dw"] += 1
        elif isinstance(layer, ir.FC):
            names = ["fc" if fcs == 1 else f"fc{counters['fc']}"]
            counters["fc"] += 1
        elif isinstance(layer, ir.AvgPool):
            names = ["pool" if counters["pool"] == 0 else f"pool{counters['pool']}"]
            counters["pool"] += 1
        else:
            names = [f"top{layer.k}"]
        named.append([attrs.evolve(low, layer=attrs.evolve(low.layer, name=n)) for low, n in zip(g, names)])
    return named


def _stated(x: float) -> float:
    """A float32 constant of the graph as the spec states it: its shortest decimal text
    (0.485, not 0.48500001...), or 1/den for the usual pixel scales."""
    x32 = np.float32(x)
    for den in FRACTIONS:
        if np.float32(1 / den) == x32:
            return 1 / den
    return float(np.format_float_positional(x32, unique=True, trim="-"))


def _values(v: tuple[float, ...]) -> tuple[float, ...]:
    """Per-channel values, one if they are all the same."""
    v = tuple(_stated(x) for x in v)
    return v[:1] if all(x == v[0] for x in v) else v


def _preprocess(pre: ir.Preprocess) -> ir.Preprocess:
    return ir.Preprocess(_stated(pre.scale), _values(pre.mean), _values(pre.std))


def spec_text(lowered: Lowered, groups: list[list[LoweredLayer]], name: str, weights_file: str, source: str,
              fold: str = "auto") -> str:
    """The spec text of an imported network (named by :func:`name_layers`)."""
    if fold not in FOLDS:
        raise ValueError(f"fold must be one of {FOLDS}")
    folding = ir.Fold(auto=fold == "auto")
    layers = tuple(low.layer if isinstance(low.layer, ir.TopK) else attrs.evolve(low.layer, fold=folding)
                   for g in groups for low in g)  # fmt: skip
    c, h, w = lowered.input_chw
    net = ir.Network(name, ir.Input(ir.Shape(h, w, c), "u8", _preprocess(lowered.preprocess)), layers,
                     quant_style=lowered.quant, weights=ir.NpzWeights(weights_file))
    comments = {g[0].layer.name: ", ".join(n for n in (low.site.nodes[0] for low in g) if n) for g in groups}
    header = [
        f"Imported from {source} (int8 QDQ) by 'mbdsl import': each layer's scales s_in * s_w / s_out",
        "become an integer multiplier m0 / 2^shift (GAP8 style), a Relu its clamp at 0.",
        f"Weights, biases and multipliers: {weights_file}. Layer comments name the ONNX nodes.",
    ] if lowered.quant == ir.MULTIPLIER else [
        f"Imported from {source} (QONNX) by 'mbdsl import': BatchNorm, scales and quantized ReLUs",
        "are folded into integer thresholds, the input preprocessing into the first layer's.",
        f"Weights and thresholds: {weights_file}. Layer comments name the ONNX nodes.",
    ]  # fmt: skip
    return write_spec(net, header="\n".join(header), folds=False, comments=comments)


def spec_name(text: str) -> str:
    """A network name from a file stem or graph name: letters, digits and underscores."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "imported"
    if s[0].isdigit():
        s = "net_" + s
    return s
