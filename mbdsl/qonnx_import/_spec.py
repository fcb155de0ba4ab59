"""Imported layers -> readable ``.mbn`` text (names, defaults, dwsep pairs, comments)."""

from __future__ import annotations

import collections
import re

import numpy as np

from ..dtypes import IntType, bits_for_range
from ..ir import Preprocess
from ._lower import Lowered, Record

__all__ = ["assign_names", "write_spec", "FOLDS"]

FOLDS = ("auto", "none")
"""``auto``: ``fold(auto)`` in the defaults (the folding pass chooses PE/SIMD);
``none``: no fold (one lane per layer), to be edited by hand."""


def assign_names(records: list[Record]) -> list[list[Record]]:
    """Name every record and group them into spec statements: a depthwise conv followed by
    a pointwise one of the same types becomes one ``dwsep`` statement (b1, b2, ...)."""
    groups: list[list[Record]] = []
    i = 0
    while i < len(records):
        r = records[i]
        nxt = records[i + 1] if i + 1 < len(records) else None
        if r.kind == "dwconv" and nxt is not None and _dwsep_pair(r, nxt):
            groups.append([r, nxt])
            i += 2
        else:
            groups.append([r])
            i += 1
    counters: collections.Counter = collections.Counter()
    fcs = sum(1 for g in groups if g[0].kind == "fc")
    for g in groups:
        r = g[0]
        if len(g) == 2:
            counters["b"] += 1
            g[0].name, g[1].name = f"b{counters['b']}.dw", f"b{counters['b']}.pw"
        elif r.kind == "conv":
            prefix = "pw" if r.kernel == 1 else "conv"
            r.name = f"{prefix}{counters[prefix]}"
            counters[prefix] += 1
        elif r.kind == "dwconv":
            r.name = f"dw{counters['dw']}"
            counters["dw"] += 1
        elif r.kind == "fc":
            r.name = "fc" if fcs == 1 else f"fc{counters['fc']}"
            counters["fc"] += 1
        elif r.kind == "avgpool":
            r.name = "pool" if counters["pool"] == 0 else f"pool{counters['pool']}"
            counters["pool"] += 1
        else:
            r.name = f"top{r.k}"
    return groups


def _dwsep_pair(dw: Record, pw: Record) -> bool:
    return (
        pw.kind == "conv" and pw.kernel == 1 and pw.stride == 1 and pw.pad == 0
        and dw.pad == dw.kernel // 2
        and dw.weight_type == pw.weight_type and dw.act_type == pw.act_type
    )


def _most_common(values):
    values = [v for v in values if v is not None]
    return collections.Counter(values).most_common(1)[0][0] if values else None


def _dtype(t: IntType) -> str:
    return t.name


def _num(x: float) -> str:
    """The shortest text that reads back as the same float32 (0.485, not 0.48500001...)."""
    x32 = np.float32(x)
    for den in (255, 256, 128, 127):
        if np.float32(1 / den) == x32:
            return f"1/{den}"
    s = np.format_float_positional(x32, unique=True, trim="-")
    return s


def _preprocess(pre: Preprocess) -> str:
    items = []
    if pre.scale != 1.0:
        items.append(f"scale {_num(pre.scale)}")
    mean = np.asarray(pre.mean, float)
    if np.any(mean != 0):
        vals = [mean[0]] if np.all(mean == mean[0]) else list(mean)
        items.append("mean " + " ".join(_num(m) for m in vals))
    std = np.asarray(pre.std, float)
    if np.any(std != 1):
        vals = [std[0]] if np.all(std == std[0]) else list(std)
        items.append("std " + " ".join(_num(s) for s in vals))
    return " { " + "; ".join(items) + " }" if items else ""


def write_spec(
    lowered: Lowered,
    groups: list[list[Record]],
    name: str,
    weights_file: str,
    source: str,
    fold: str = "auto",
) -> str:
    """The spec text of an imported network (names already assigned by :func:`assign_names`)."""
    if fold not in FOLDS:
        raise ValueError(f"fold must be one of {FOLDS}")
    records = [r for g in groups for r in g]
    macs = [r for r in records if r.kind in ("conv", "dwconv", "fc")]
    wdef = _most_common([r.weight_type for r in macs])
    adef = _most_common([r.act_type for r in macs])
    if adef is None:
        adef = IntType(8, False)
    c, h, w = lowered.input_chw
    mult = lowered.quant == "multiplier"
    lines = [
        f"# Imported from {source} (int8 QDQ) by 'mbdsl import': each layer's scales s_in * s_w / s_out",
        "# become an integer multiplier m0 / 2^shift (GAP8 style), a Relu its clamp at 0.",
        f"# Weights, biases and multipliers: {weights_file}. Layer comments name the ONNX nodes.",
    ] if mult else [
        f"# Imported from {source} (QONNX) by 'mbdsl import': BatchNorm, scales and quantized ReLUs",
        "# are folded into integer thresholds, the input preprocessing into the first layer's.",
        f"# Weights and thresholds: {weights_file}. Layer comments name the ONNX nodes.",
    ]
    lines += [
        f"network {name} {{",
        f"  input {h}x{w}x{c} u8{_preprocess(lowered.preprocess)}",
    ]
    defaults = [f"weights {_dtype(wdef)}", f"activations {_dtype(adef)}", f"quant {lowered.quant}"]
    if fold == "auto":
        defaults.append("fold(auto)")
    lines.append("  defaults { " + "; ".join(defaults) + " }")
    lines.append(f'  weights "{weights_file}"')
    lines.append("")
    last_mac = macs[-1] if macs else None
    rows = []
    for g in groups:
        r = g[0]
        types = []
        if r.weight_type is not None and r.weight_type != wdef:
            types.append(f"weights {_dtype(r.weight_type)}")
        explicit_act = r.kind == "fc" and r is last_mac and r.act_type is not None
        if r.kind in ("conv", "dwconv", "fc") and r.act_type is not None and (r.act_type != adef or explicit_act):
            types.append(f"activations {_dtype(r.act_type)}")
        if r.bias is not None and not mult:  # a raw classifier's integer bias (Brevitas IntBias)
            types.append(f"bias {_dtype(bits_for_range(min(int(r.bias.min()), -2), int(r.bias.max())))}")
        if len(g) == 2:
            pw = g[1]
            k = f" {r.kernel}x{r.kernel}" if r.kernel != 3 else ""
            stmt = f"dwsep   {r.name.split('.')[0]}{k} stride {r.stride} -> {pw.out_channels}"
            nodes = [r.nodes[0], pw.nodes[0]]
        elif r.kind == "conv" and r.kernel == 1 and r.pad == 0:
            stmt = f"pwconv  {r.name}" + (f" stride {r.stride}" if r.stride != 1 else "") + f" -> {r.out_channels}"
            nodes = r.nodes[:1]
        elif r.kind == "conv":
            stmt = f"conv    {r.name} {r.kernel}x{r.kernel} stride {r.stride} pad {r.pad} -> {r.out_channels}"
            nodes = r.nodes[:1]
        elif r.kind == "dwconv":
            stmt = f"dwconv  {r.name} {r.kernel}x{r.kernel} stride {r.stride} pad {r.pad}"
            nodes = r.nodes[:1]
        elif r.kind == "fc":
            stmt = f"fc      {r.name} -> {r.out_channels}"
            nodes = r.nodes[:1]
        elif r.kind == "avgpool":
            stmt = f"avgpool {r.name} global"
            nodes = r.nodes[:1]
        else:
            stmt = f"topk    {r.name} {r.k}"
            nodes = r.nodes[:1]
        if r.kind == "avgpool":
            stmt += _pool_args(r, mult)
        if types:
            stmt += " " + " ".join(types)
        rows.append((stmt, ", ".join(n for n in nodes if n)))
    width = max(len(s) for s, _ in rows)
    for stmt, comment in rows:
        lines.append(f"  {stmt.ljust(width)}   # {comment}" if comment else f"  {stmt}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _pool_args(r: Record, mult: bool = False) -> str:
    out = "" if mult else f" shift {r.shift}"  # multiplier style: m0 and shift are in the npz
    if r.act_type != r.in_type:
        out += f" activations {_dtype(r.act_type)}"
    return out


def spec_name(text: str) -> str:
    """A network name from a file stem or graph name: letters, digits and underscores."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", text).strip("_") or "imported"
    if s[0].isdigit():
        s = "net_" + s
    return s

