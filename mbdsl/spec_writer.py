"""Network model -> readable .mbn text (used by ``mbdsl fold -o`` and the importers).

The text parses back to the same model: depthwise/pointwise pairs named ``X.dw``/``X.pw``
become one ``dwsep X`` statement, the most common types become ``defaults``, and every
layer states its folding.
"""

from __future__ import annotations

import os
from collections import Counter

from . import ir
from .dtypes import IntType

__all__ = ["write_spec"]


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _type(t: IntType) -> str:
    return t.name


def _size(n: int) -> str:
    return f"{n // (1 << 20)} MiB" if n % (1 << 20) == 0 else str(n)


def _fold(f: ir.Fold, prefix: str = "") -> list[str]:
    return [f"{prefix}pe = {f.pe}", f"{prefix}simd = {f.simd}"]


def _is_pair(a, b) -> bool:
    return (
        isinstance(a, ir.DwConv) and isinstance(b, ir.Conv) and b.is_pointwise
        and a.name.endswith(".dw") and b.name == a.name[:-3] + ".pw" and a.pad == a.kernel // 2
        and a.weight_type == b.weight_type and a.act_type == b.act_type and a.acc_limit is None and b.acc_limit is None
        and a.bias_type is None and b.bias_type is None
    )  # fmt: skip


def write_spec(net: ir.Network, path: str | None = None, header: str = "") -> str:
    """The spec text of ``net``; relative weight paths are rewritten for a spec at ``path``."""
    macs = [l for l in net.layers if isinstance(l, (ir.Conv, ir.DwConv, ir.FC))]
    wdef = Counter(l.weight_type for l in macs).most_common(1)[0][0] if macs else IntType(8, True)
    adef = Counter(l.act_type for l in macs if l.act_type is not None).most_common(1)
    adef = adef[0][0] if adef else IntType(8, False)

    def types(layer) -> str:
        out = ""
        if layer.weight_type != wdef:
            out += f" weights {_type(layer.weight_type)}"
        if layer.act_type is not None and (layer.act_type != adef or isinstance(layer, ir.FC)):
            out += f" activations {_type(layer.act_type)}"
        if layer.acc_limit is not None:
            out += f" acc {_type(layer.acc_limit)}"
        if layer.bias_type is not None:
            out += f" bias {_type(layer.bias_type)}"
        return out

    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.append(f"network {net.name} {{")
    inp = net.input
    size = f"{inp.shape.h}x{inp.shape.w}" + ("" if inp.format == "nv12" else f"x{inp.shape.c}")
    pre = inp.preprocess
    settings = []
    if pre.scale != 1.0:
        settings.append(f"scale {_num(pre.scale)}")
    if pre.mean != (0.0,):
        settings.append("mean " + " ".join(map(_num, pre.mean)))
    if pre.std != (1.0,):
        settings.append("std " + " ".join(map(_num, pre.std)))
    if inp.resize is not None:
        settings.append(f"resize {inp.resize}")
    lines.append(f"  input {size} {inp.format}" + (" { " + "; ".join(settings) + " }" if settings else ""))
    lines.append(f"  defaults {{ weights {_type(wdef)}; activations {_type(adef)}; quant {net.quant_style} }}")
    if isinstance(net.weights, ir.RandomWeights):
        lines.append(f"  weights random(seed = {net.weights.seed})")
    else:
        source_dir = os.path.dirname(os.path.abspath(net.source)) if net.source else os.getcwd()
        target = os.path.normpath(os.path.join(source_dir, net.weights.path))
        rel = os.path.relpath(target, os.path.dirname(os.path.abspath(path))) if path else net.weights.path
        lines.append(f'  weights "{rel}"')
    lines.append("")
    layers = list(net.layers)
    i = 0
    while i < len(layers):
        layer = layers[i]
        if i + 1 < len(layers) and _is_pair(layer, layers[i + 1]):
            pw = layers[i + 1]
            kernel = "" if layer.kernel == 3 else f" {layer.kernel}x{layer.kernel}"
            fold = ", ".join(_fold(layer.fold, "dw_") + _fold(pw.fold))
            lines.append(f"  dwsep {layer.name[:-3]}{kernel} stride {layer.stride} -> {pw.out_channels}{types(layer)} fold({fold})")
            i += 2
            continue
        if isinstance(layer, ir.Conv) and layer.is_pointwise:
            lines.append(f"  pwconv {layer.name} -> {layer.out_channels}{types(layer)} fold({', '.join(_fold(layer.fold))})")
        elif isinstance(layer, ir.Conv):
            k = layer.kernel
            lines.append(f"  conv {layer.name} {k}x{k} stride {layer.stride} pad {layer.pad} -> {layer.out_channels}{types(layer)} fold({', '.join(_fold(layer.fold))})")
        elif isinstance(layer, ir.DwConv):
            k = layer.kernel
            lines.append(f"  dwconv {layer.name} {k}x{k} stride {layer.stride} pad {layer.pad}{types(layer)} fold({', '.join(_fold(layer.fold))})")
        elif isinstance(layer, ir.FC):
            lines.append(f"  fc {layer.name} -> {layer.out_channels}{types(layer)} fold({', '.join(_fold(layer.fold))})")
        elif isinstance(layer, ir.AvgPool):
            extra = f" activations {_type(layer.act_type)}" if layer.act_type is not None and layer.act_type != layer.in_type else ""
            if net.quant_style == ir.THRESHOLDS and layer.shift is not None:
                extra += f" shift {layer.shift}"
            lines.append(f"  avgpool {layer.name} global{extra} fold(pe = {layer.fold.pe})")
        elif isinstance(layer, ir.TopK):
            lines.append(f"  topk {layer.name} {layer.k}")
        i += 1
    lines.append("}")
    if net.fpga is not None:
        part = f'; part "{net.fpga.part}"' if net.fpga.part else ""
        goal = net.fpga.goal
        if goal is not None:
            part += "".join(f"; {key} {_num(v)}" for key in ("fps", "mac_lanes", "lut", "bram") if (v := getattr(goal, key)) is not None)
        lines += ["", f"target fpga {{ clock {_num(net.fpga.clock_hz / 1e6)} MHz{part} }}"]
    if net.gap8 is not None:
        g = net.gap8
        lines += ["", f"target gap8 {{ l1 {_size(g.l1)}; l2 {_size(g.l2)}; l3 {_size(g.l3)}; cores {g.cores}; "
                      f"l1_reserve {g.l1_reserve}; l2_reserve {g.l2_reserve}; clock {_num(g.clock_hz / 1e6)} MHz }}"]  # fmt: skip
    return "\n".join(lines) + "\n"
