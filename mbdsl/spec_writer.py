"""Network model -> readable .mbn text, for ``mbdsl fold -o`` and ``mbdsl import``.

The text parses back to the same model: depthwise/pointwise pairs named ``X.dw``/``X.pw``
become one ``dwsep X`` statement, the most common types become ``defaults``, and every
layer states its folding (or, for an imported network, the defaults say ``fold(auto)``).
Statements may carry a comment each (the importer names the ONNX nodes there); the
statements are then aligned in columns.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping

import numpy as np

from . import ir
from .dtypes import IntType

__all__ = ["write_spec", "dwsep_pair", "FRACTIONS"]

FRACTIONS = (255, 256, 128, 127)
"""Denominators of the scales written as fractions (``scale 1/255``)."""


def _num(x: float, fraction: bool = False) -> str:
    """The shortest text that reads back as ``x`` (``1/255`` for the usual pixel scales)."""
    x = float(x)
    if fraction:
        for den in FRACTIONS:
            if x == 1 / den:
                return f"1/{den}"
    return np.format_float_positional(x, unique=True, trim="-")


def _size(n: int) -> str:
    return f"{n // (1 << 20)} MiB" if n % (1 << 20) == 0 else str(n)


def dwsep_pair(dw: ir.Layer, pw: ir.Layer) -> bool:
    """Whether a depthwise layer followed by a pointwise one is what a ``dwsep`` statement
    builds: the depthwise half padded by kernel/2, the pointwise half 1x1 stride 1, both of
    the same types, neither with an accumulator limit or a bias."""
    return (
        isinstance(dw, ir.DwConv) and isinstance(pw, ir.Conv) and pw.is_pointwise
        and dw.pad == dw.kernel // 2 and dw.weight_type == pw.weight_type and dw.act_type == pw.act_type
        and dw.acc_limit is None and pw.acc_limit is None and dw.bias_type is None and pw.bias_type is None
    )  # fmt: skip


def _named_pair(a: ir.Layer, b: ir.Layer) -> bool:
    return dwsep_pair(a, b) and a.name.endswith(".dw") and b.name == a.name[:-3] + ".pw"


def _preprocess(pre: ir.Preprocess, resize: int | None) -> str:
    settings = []
    if pre.scale != 1.0:
        settings.append(f"scale {_num(pre.scale, fraction=True)}")
    if pre.mean != (0.0,):
        settings.append("mean " + " ".join(_num(m) for m in pre.mean))
    if pre.std != (1.0,):
        settings.append("std " + " ".join(_num(s) for s in pre.std))
    if resize is not None:
        settings.append(f"resize {resize}")
    return " { " + "; ".join(settings) + " }" if settings else ""


def _weights(net: ir.Network, path: str | None) -> str:
    if isinstance(net.weights, ir.RandomWeights):
        return f"weights random(seed = {net.weights.seed})"
    source_dir = os.path.dirname(os.path.abspath(net.source)) if net.source else os.getcwd()
    target = os.path.normpath(os.path.join(source_dir, net.weights.path))
    rel = os.path.relpath(target, os.path.dirname(os.path.abspath(path))) if path else net.weights.path
    return f'weights "{rel}"'


def _targets(net: ir.Network) -> list[str]:
    lines = []
    if net.fpga is not None:
        part = f'; part "{net.fpga.part}"' if net.fpga.part else ""
        if net.fpga.device is not None:
            part += f'; device "{net.fpga.device}"'
        if net.fpga.utilisation is not None:
            part += f"; utilisation {_num(round(net.fpga.utilisation * 100, 6))}%"
        goal = net.fpga.goal
        if goal is not None and goal.device is None:  # a device's budgets are written as the device
            part += "".join(f"; {key} {_num(v)}" for key in ("fps", "mac_lanes", "lut", "bram") if (v := getattr(goal, key)) is not None)
        lines += ["", f"target fpga {{ clock {_num(net.fpga.clock_hz / 1e6)} MHz{part} }}"]
    if net.gap8 is not None:
        g = net.gap8
        lines += ["", f"target gap8 {{ l1 {_size(g.l1)}; l2 {_size(g.l2)}; l3 {_size(g.l3)}; cores {g.cores}; "
                      f"l1_reserve {g.l1_reserve}; l2_reserve {g.l2_reserve}; clock {_num(g.clock_hz / 1e6)} MHz }}"]  # fmt: skip
    return lines


def write_spec(
    net: ir.Network,
    path: str | None = None,
    header: str = "",
    *,
    folds: bool = True,
    comments: Mapping[str, str] | None = None,
) -> str:
    """The spec text of ``net``; relative weight paths are rewritten for a spec at ``path``.

    ``folds``: every layer states its folding; otherwise none does, and the defaults say
    ``fold(auto)`` when every layer's folding is automatic. ``comments``: a comment per
    statement, by the name of its (first) layer; the statements are then aligned.
    """
    macs = [l for l in net.layers if isinstance(l, (ir.Conv, ir.DwConv, ir.FC))]
    wdef = Counter(l.weight_type for l in macs).most_common(1)[0][0] if macs else IntType(8, True)
    adef = Counter(l.act_type for l in macs if l.act_type is not None).most_common(1)
    adef = adef[0][0] if adef else IntType(8, False)
    last_mac = macs[-1] if macs else None
    aligned = comments is not None

    def types(layer) -> str:
        out = ""
        if layer.weight_type != wdef:
            out += f" weights {layer.weight_type.name}"
        # The final fc outputs raw logits unless its activations are stated.
        if layer.act_type is not None and (layer.act_type != adef or isinstance(layer, ir.FC) and layer is last_mac):
            out += f" activations {layer.act_type.name}"
        if layer.acc_limit is not None:
            out += f" acc {layer.acc_limit.name}"
        if layer.bias_type is not None:
            out += f" bias {layer.bias_type.name}"
        return out

    def fold(*parts: tuple[ir.Fold, str]) -> str:
        if not folds:
            return ""
        return " fold(" + ", ".join(f"{p}pe = {f.pe}, {p}simd = {f.simd}" + (f", {p}mult = {f.mult}" if f.mult else "")
                                    + (f", weights = {f.weights}" if f.weights != "rom" else "") for f, p in parts) + ")"

    def keyword(word: str) -> str:
        return word.ljust(7) if aligned else word

    statements: list[tuple[str, str]] = []
    layers = list(net.layers)
    i = 0
    while i < len(layers):
        layer = layers[i]
        first = layer.name
        if i + 1 < len(layers) and _named_pair(layer, layers[i + 1]):
            pw = layers[i + 1]
            kernel = "" if layer.kernel == 3 else f" {layer.kernel}x{layer.kernel}"
            stmt = f"{keyword('dwsep')} {layer.name[:-3]}{kernel} stride {layer.stride} -> {pw.out_channels}{types(layer)}"
            stmt += fold((layer.fold, "dw_"), (pw.fold, ""))
            i += 1
        elif isinstance(layer, ir.Conv) and layer.is_pointwise:
            stmt = f"{keyword('pwconv')} {layer.name} -> {layer.out_channels}{types(layer)}{fold((layer.fold, ''))}"
        elif isinstance(layer, ir.Conv):
            k = layer.kernel
            stmt = f"{keyword('conv')} {layer.name} {k}x{k} stride {layer.stride} pad {layer.pad} -> {layer.out_channels}{types(layer)}{fold((layer.fold, ''))}"
        elif isinstance(layer, ir.DwConv):
            k = layer.kernel
            stmt = f"{keyword('dwconv')} {layer.name} {k}x{k} stride {layer.stride} pad {layer.pad}{types(layer)}{fold((layer.fold, ''))}"
        elif isinstance(layer, ir.FC):
            stmt = f"{keyword('fc')} {layer.name} -> {layer.out_channels}{types(layer)}{fold((layer.fold, ''))}"
        elif isinstance(layer, ir.AvgPool):
            extra = ""
            if net.quant_style == ir.THRESHOLDS and layer.shift is not None:
                extra += f" shift {layer.shift}"
            if layer.act_type is not None and layer.act_type != layer.in_type:
                extra += f" activations {layer.act_type.name}"
            stmt = f"{keyword('avgpool')} {layer.name} global{extra}" + (f" fold(pe = {layer.fold.pe})" if folds else "")
        else:
            stmt = f"{keyword('topk')} {layer.name} {layer.k}"
        statements.append((stmt, comments.get(first, "") if aligned else ""))
        i += 1

    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.append(f"network {net.name} {{")
    inp = net.input
    size = f"{inp.shape.h}x{inp.shape.w}" + ("" if inp.format == "nv12" else f"x{inp.shape.c}")
    pixels = f" fold(pixels = {inp.pixels})" if inp.pixels is not None else ""
    lines.append(f"  input {size} {inp.format}{pixels}{_preprocess(inp.preprocess, inp.resize)}")
    defaults = [f"weights {wdef.name}", f"activations {adef.name}", f"quant {net.quant_style}"]
    if not folds and layers and all(l.fold.auto for l in layers if not isinstance(l, ir.TopK)):
        defaults.append("fold(auto)")
    lines.append("  defaults { " + "; ".join(defaults) + " }")
    lines.append("  " + _weights(net, path))
    lines.append("")
    width = max((len(s) for s, _ in statements), default=0)
    lines += [f"  {stmt.ljust(width)}   # {comment}" if comment else f"  {stmt}" for stmt, comment in statements]
    lines.append("}")
    lines += _targets(net)
    return "\n".join(lines) + "\n"
