"""The generated top: a chain of streaming stages, one or more per layer.

``plan(net)`` turns a checked network into stages (width converters, FIFOs, window
generators, compute units) with every parameter fixed; ``generate(net, params)`` renders
the top from ``templates/top.sv.j2`` and adds the module sources and ROM files, so the
output directory is a self-contained design.
"""

from __future__ import annotations

import json
import re

import attrs
import jinja2

from . import pack
from .mult import MULT_CODES, packing
from .sources import HDL_DIR, hdl_sources
from ... import ir
from ...dataflow import fifo_depth, input_beat, window
from ...errors import UnsupportedByBackend
from ..names import identifier
from ...params import Params

__all__ = ["Stage", "Stream", "plan", "layer_stages", "generate", "top_name", "MAX_PORT_BITS"]

MAX_PORT_BITS = 64
"""Widest top-level AXI-Stream port (the simulation harness moves beats as 64-bit words)."""


@attrs.frozen
class Stream:
    """A stream between stages: ``elems`` elements of ``bits`` bits per beat."""

    elems: int
    bits: int
    signed: bool

    @property
    def width(self) -> int:
        return self.elems * self.bits


@attrs.frozen
class Stage:
    module: str
    instance: str
    params: tuple[tuple[str, object], ...]
    out: Stream
    layer: str | None = None
    """Set on the stage whose output is a layer's output (traced in simulation)."""
    zero_extend: int = 0
    """Zero bits prepended to the input data (unsigned values into a signed unit)."""


_SIGNALS = re.compile(r"clk|rst_n|[sm]_axis_\w*|s\d+_t\w*|trace_\w*")
"""Identifiers of the top's own ports and signals (see templates/top.sv.j2)."""


def ident(name: str) -> str:
    """A layer or network name as a Verilog identifier (``b3.dw`` -> ``b3_dw``; keywords
    and the top's own signal names get a prefix, see :mod:`mbdsl.backends.names`)."""
    return identifier(name, _SIGNALS.fullmatch)


def top_name(net: ir.Network) -> str:
    return f"{ident(net.name)}_top"


def _check_supported(net: ir.Network) -> None:
    if net.quant_style != ir.THRESHOLDS:
        raise UnsupportedByBackend(
            "the RTL backend implements threshold activations, not the multiplier style",
            net.span,
            "use 'quant thresholds' in defaults, or generate --target hls or gap8 for this spec",
        )
    if net.input.format == "u8" and net.input.shape.c * 8 > MAX_PORT_BITS:
        raise UnsupportedByBackend(f"the RTL input port carries one pixel per beat; {net.input.shape.c} channels exceed {MAX_PORT_BITS} bits", net.input.span, "use at most 8 input channels")
    for layer in net.layers:
        if isinstance(layer, ir.AvgPool) and layer.in_type.signed:
            raise UnsupportedByBackend(f"the RTL pool sums unsigned activations; layer {layer.name} receives {layer.in_type}", layer.span, "use unsigned activations before the pool")


def _acc_bits(layer) -> int:
    """Accumulator width in the RTL: the derived type plus room for a threshold at max+1."""
    return pack.acc_bits(layer.acc_type.min, layer.acc_type.max)


def _out_stream(layer, elems: int) -> Stream:
    if layer.act_type is None:
        return Stream(elems, _acc_bits(layer), True)
    return Stream(elems, layer.act_type.bits, layer.act_type.signed)


def _converter(name: str, cur: Stream, elems: int, total: int) -> Stage | None:
    """A width converter from ``cur`` to ``elems`` elements per beat, if they differ."""
    if cur.elems == elems:
        return None
    return Stage("mbdsl_dwc", f"{name}_dwc", (("IN_ELEMS", cur.elems), ("OUT_ELEMS", elems), ("BITS", cur.bits), ("TOTAL", total)),
                 Stream(elems, cur.bits, cur.signed))


def layer_stages(layer: ir.Layer, cur: Stream) -> list[Stage]:
    """The stages of one layer fed by the stream ``cur``, in stream order: a width converter
    if the layer takes another beat, its FIFO, window generator and compute unit."""
    name = ident(layer.name)
    stages: list[Stage] = []

    def add(module: str, instance: str, params: dict, out: Stream, traced: str | None = None, zero_extend: int = 0) -> None:
        nonlocal cur
        stages.append(Stage(module, instance, tuple(params.items()), out, traced, zero_extend))
        cur = out

    def convert(elems: int, total: int) -> None:
        nonlocal cur
        if (dwc := _converter(name, cur, elems, total)) is not None:
            stages.append(dwc)
            cur = dwc.out

    total = layer.in_shape.size if isinstance(layer, ir.FC) else layer.in_shape.c
    if isinstance(layer, ir.TopK):
        convert(1, layer.in_shape.c)
        extend = 0 if cur.signed else 1  # the unit compares signed values
        add("mbdsl_fifo", f"{name}_fifo", {"WIDTH": cur.width, "DEPTH": fifo_depth(layer)}, cur)
        idx_bits = max(1, (layer.in_shape.c - 1).bit_length()) if layer.in_shape.c > 2 else 1
        add("mbdsl_topk", name, {"N": layer.in_shape.c, "IN_BITS": cur.bits + extend, "K": layer.k},
            Stream(1, idx_bits, False), layer.name, zero_extend=extend)
        return stages
    beat = input_beat(layer)
    convert(beat, total)
    add("mbdsl_fifo", f"{name}_fifo", {"WIDTH": cur.width, "DEPTH": fifo_depth(layer)}, cur)
    w = window(layer)
    if w is not None:
        add("mbdsl_swg", f"{name}_swg", {
            "IFM_H": w.ifm_h, "IFM_W": w.ifm_w, "C": w.channels, "K": w.kernel, "STRIDE": w.stride,
            "PAD": w.pad, "BITS": cur.bits, "CPAR": w.cpar, "KPAR": w.kpar, "DW": int(w.depthwise),
        }, Stream(w.cpar * w.kpar, cur.bits, cur.signed))
    f = layer.fold
    if isinstance(layer, ir.AvgPool):
        add("mbdsl_pool", name, {
            "C": layer.in_shape.c, "PE": f.pe, "N_PIX": layer.in_shape.h * layer.in_shape.w, "IN_BITS": cur.bits,
            "SUM_BITS": layer.acc_type.bits, "SHIFT": layer.shift, "OUT_BITS": layer.act_type.bits,
        }, Stream(f.pe, layer.act_type.bits, False), layer.name)
        return stages
    act = layer.act_type
    common = {
        "PE": f.pe, "SIMD": f.simd, "IN_BITS": cur.bits, "IN_SIGNED": int(cur.signed),
        "W_BITS": layer.weight_type.bits, "W_SIGNED": 1, "ACC_BITS": _acc_bits(layer),
        "N_THRES": act.levels - 1 if act is not None else 0,
        "OUT_BITS": act.bits if act is not None else _acc_bits(layer), "OUT_MIN": act.min if act is not None else 0,
        "WEIGHT_FILE": f"weights/{name}.memh", "THRESH_FILE": f"thresholds/{name}.memh" if act is not None else "",
    }
    if layer.bias_type is not None:
        common |= {"HAS_BIAS": 1, "BIAS_FILE": f"biases/{name}.memh"}
    common |= _mult_params(layer, cur)
    if isinstance(layer, ir.DwConv):
        shape = {"C": layer.in_shape.c, "K2": layer.kernel * layer.kernel}
        module = "mbdsl_vvau"
    else:
        mh, mw = layer.matrix
        shape = {"MH": mh, "MW": mw}
        module = "mbdsl_mvau"
    add(module, name, shape | common, _out_stream(layer, f.pe), layer.name)
    return stages


def _mult_params(layer: ir.Layer, x: Stream) -> dict:
    """The unit's MULT (and PACK) parameters for the layer's ``fold(mult = ...)``; none if unset."""
    mult = layer.fold.mult
    if mult is None:
        return {}
    params = {"MULT": MULT_CODES[mult]}
    if mult == "packed":
        params["PACK"] = min(layer.fold.pe, packing(x.bits, x.signed, layer.weight_type.bits))
    return params


def plan(net: ir.Network) -> tuple[Stream, list[Stage]]:
    """The input stream and the stages of the top, in stream order."""
    _check_supported(net)
    stages: list[Stage] = []
    if net.input.format == "nv12":
        head = Stream(1, 8, False)
        stages.append(Stage("mbdsl_nv12", "frontend_nv12", (("W", net.input.shape.w), ("H", net.input.shape.h)), Stream(3, 8, False)))
    else:
        head = Stream(net.input.shape.c, 8, False)
    cur = stages[-1].out if stages else head
    owners: dict[str, ir.Layer | None] = {s.instance: None for s in stages}

    def add(stage: Stage, owner: ir.Layer | None) -> None:
        nonlocal cur
        if stage.instance in owners:  # two layers whose names give the same identifier
            first, second = (f"layer '{o.name}'" if o else "the top's own stage" for o in (owners[stage.instance], owner))
            raise UnsupportedByBackend(f"{first} and {second} both give the Verilog instance name '{stage.instance}'",
                             (owner or owners[stage.instance]).span, "rename the layer")
        owners[stage.instance] = owner
        stages.append(stage)
        cur = stage.out

    for layer in net.layers:
        for stage in layer_stages(layer, cur):
            add(stage, layer)
    if (dwc := _converter("out", cur, 1, net.layers[-1].out_shape.size)) is not None:
        add(dwc, None)
    if cur.width > MAX_PORT_BITS:
        raise UnsupportedByBackend(f"the output port would be {cur.width} bits wide", net.layers[-1].span, "end the network with a topk")
    return head, stages


def _memories(net: ir.Network, params: Params) -> dict[str, str]:
    files = {}
    for layer in net.layers:
        if not isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            continue
        name = ident(layer.name)
        p = params[layer.name]
        f = layer.fold
        if isinstance(layer, ir.DwConv):
            w = p.weights.reshape(layer.in_shape.c, layer.kernel * layer.kernel)
            words = pack.vvau_weight_words(w, f.pe, f.simd, layer.weight_type.bits)
        else:
            w = p.weights.reshape(layer.out_shape.c, -1)
            words = pack.mvau_weight_words(w, f.pe, f.simd, layer.weight_type.bits)
        files[f"weights/{name}.memh"] = _memh(words, f.pe * f.simd * layer.weight_type.bits)
        if layer.act_type is not None:
            bits = _acc_bits(layer)
            t = pack.clip_thresholds(p.thresholds, layer.acc_type.min, layer.acc_type.max)
            files[f"thresholds/{name}.memh"] = _memh(pack.threshold_words(t, f.pe, bits), f.pe * t.shape[1] * bits)
        if layer.bias_type is not None:
            bits = _acc_bits(layer)
            files[f"biases/{name}.memh"] = _memh(pack.bias_words(p.bias, f.pe, bits), f.pe * bits)
    return files


def _memh(words, width: int) -> str:
    digits = max(1, (width + 3) // 4)
    return "".join(f"{int(w):0{digits}x}\n" for w in words)


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("mbdsl.backends.rtl", "templates"),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _sv_value(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def manifest(net: ir.Network, head: Stream, stages: list[Stage]) -> dict:
    """What a simulation needs to drive the top and read its traces."""
    return {
        "top": top_name(net),
        "input": attrs.asdict(head),
        "output": attrs.asdict(stages[-1].out),
        "traces": [{"layer": s.layer, "file": f"trace/{ident(s.layer)}.memh", **attrs.asdict(s.out)} for s in stages if s.layer],
    }


def _diagram(net: ir.Network, stages: list[Stage]) -> str:
    lines = ["```mermaid", "flowchart LR", "  in([s_axis])"]
    prev = "in"
    for s in stages:
        label = s.module.removeprefix("mbdsl_")
        extra = dict(s.params)
        if "PE" in extra:
            label += f" PE={extra['PE']}" + (f" SIMD={extra['SIMD']}" if "SIMD" in extra else "")
        lines.append(f"  {s.instance}[\"{s.instance}<br/>{label}<br/>{s.out.elems}x{s.out.bits}b\"]")
        lines.append(f"  {prev} --> {s.instance}")
        prev = s.instance
    lines += ["  out([m_axis])", f"  {prev} --> out", "```"]
    return f"# {top_name(net)}\n\nStages of the generated top, in stream order.\n\n" + "\n".join(lines) + "\n"


def generate(net: ir.Network, params: Params) -> dict[str, str]:
    head, stages = plan(net)
    modules = sorted({s.module for s in stages})
    sources = sorted({p.name for m in modules for p in hdl_sources(m)})
    top = _ENV.get_template("top.sv.j2").render(
        top=top_name(net), net=net, head=head, stages=stages, sv_value=_sv_value,
    )
    files = {f"{top_name(net)}.sv": top}
    files.update({f"hdl/{name}": (HDL_DIR / name).read_text() for name in sources})
    files.update(_memories(net, params))
    files["manifest.json"] = json.dumps(manifest(net, head, stages), indent=2) + "\n"
    files["README.md"] = _diagram(net, stages)
    return files


