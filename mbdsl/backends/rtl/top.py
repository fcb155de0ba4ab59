"""The generated top: a chain of streaming stages, one or more per layer.

``plan(net, params)`` turns a checked network into stages (width converters, FIFOs, window
generators, compute units) with every parameter fixed; ``generate(net, params)`` renders
the top from ``templates/top.sv.j2`` and adds the module sources and ROM files, so the
output directory is a self-contained design. A thresholds-style plan depends on the
network alone; a multiplier-style one also on its parameters (each layer's shift and the
widths of its bias and m0), which ``params`` must then give.
"""

from __future__ import annotations

import json
import re

import attrs
import numpy as np

from . import pack
from .memories import WMEM_CODES
from .mult import MULT_CODES, packing
from .sources import HDL_DIR, hdl_sources
from ... import ir
from ...dataflow import fifo_depth, input_beat, streamed, weight_word_bytes, window
from ...errors import UnsupportedByBackend
from ...semantics import acc_bits
from ..names import identifier
from ...params import LayerParams, Params
from ...templating import environment

__all__ = ["Stage", "Stream", "WeightLoad", "plan", "needs_params", "layer_stages", "weight_loads", "generate", "top_name",
           "MAX_PORT_BITS", "ROM_FOLDERS", "LOAD_FILE"]

ROM_FOLDERS = ("weights", "thresholds", "biases", "requant")
"""The folders of ROM files in a generated design ($readmemh reads them at run time)."""

LOAD_FILE = "wload.memh"
"""The weight-load stream of a design with UltraRAM units: 32-bit beats, one a line (docs/rtl.md)."""

MAX_PORT_BITS = 64
"""Widest top-level output port (the simulation harness reads output beats as 64-bit words;
it drives an input port of any width)."""


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
    weight_stream: int = 0
    """Bits of the unit's weight-stream port, a top-level input ``<instance>_w_t*`` (0: the
    unit keeps its weights on chip)."""


_SIGNALS = re.compile(r"clk|rst_n|[sm]_axis_\w*|s\d+_t\w*|trace_\w*|w\d+_t\w*|w_done|loaded|wload_\w*|\w*_w_t(?:data|valid|ready)")
"""Identifiers of the top's own ports and signals (see templates/top.sv.j2)."""


def ident(name: str) -> str:
    """A layer or network name as a Verilog identifier (``b3.dw`` -> ``b3_dw``; keywords
    and the top's own signal names get a prefix, see :mod:`mbdsl.backends.names`)."""
    return identifier(name, _SIGNALS.fullmatch)


def top_name(net: ir.Network) -> str:
    return f"{ident(net.name)}_top"


def needs_params(net: ir.Network) -> bool:
    """Whether the network's RTL plan depends on its parameters (the multiplier style)."""
    return net.quant_style == ir.MULTIPLIER


def _check_supported(net: ir.Network, params: Params | None) -> None:
    if needs_params(net) and params is None:
        raise UnsupportedByBackend(
            "the RTL plan of a multiplier-style network needs its parameters (each layer's shift, bias and m0 widths)",
            net.span,
            "give the parameters (mbdsl.params.make_params) to plan, or use 'quant thresholds'",
        )
    for layer in net.layers:
        if isinstance(layer, ir.AvgPool) and layer.in_type.signed:
            raise UnsupportedByBackend(f"the RTL pool sums unsigned activations; layer {layer.name} receives {layer.in_type}", layer.span, "use unsigned activations before the pool")


def _requant(lp: LayerParams, acc_lo: int, acc_hi: int, bias, name: str) -> dict:
    """The parameters of a layer's mbdsl_requant stage (without its REQUANT switch)."""
    w = pack.requant_widths(acc_lo, acc_hi, bias, lp.m0, lp.shift)
    return {"RQ_BIAS_BITS": w.bias_bits, "RQ_M0_BITS": w.m0_bits, "RQ_PROD_BITS": w.prod_bits,
            "RQ_SHIFT": lp.shift, "RQ_FILE": f"requant/{name}.memh"}


def _converter(name: str, cur: Stream, elems: int, total: int) -> Stage | None:
    """A width converter from ``cur`` to ``elems`` elements per beat, if they differ."""
    if cur.elems == elems:
        return None
    return Stage("mbdsl_dwc", f"{name}_dwc", (("IN_ELEMS", cur.elems), ("OUT_ELEMS", elems), ("BITS", cur.bits), ("TOTAL", total)),
                 Stream(elems, cur.bits, cur.signed))


def layer_stages(layer: ir.Layer, cur: Stream, requant: LayerParams | None = None) -> list[Stage]:
    """The stages of one layer fed by the stream ``cur``, in stream order: a width converter
    if the layer takes another beat, its FIFO, window generator and compute unit.
    ``requant``: the layer's parameters in a multiplier-style network (None: thresholds)."""
    name = ident(layer.name)
    stages: list[Stage] = []

    def add(module: str, instance: str, params: dict, out: Stream, traced: str | None = None, zero_extend: int = 0,
            weight_stream: int = 0) -> None:
        nonlocal cur
        stages.append(Stage(module, instance, tuple(params.items()), out, traced, zero_extend, weight_stream))
        cur = out

    def convert(elems: int, total: int) -> None:
        nonlocal cur
        if (dwc := _converter(name, cur, elems, total)) is not None:
            stages.append(dwc)
            cur = dwc.out

    total = layer.in_shape.size if isinstance(layer, ir.FC) else layer.in_shape.c * layer.in_pixels
    if isinstance(layer, ir.TopK):
        convert(1, layer.in_shape.c)
        extend = 0 if cur.signed else 1  # the unit compares signed values
        add("mbdsl_fifo", f"{name}_fifo", {"WIDTH": cur.width, "DEPTH": fifo_depth(layer)}, cur)
        add("mbdsl_topk", name, {"N": layer.in_shape.c, "IN_BITS": cur.bits + extend, "K": layer.k},
            Stream(1, layer.index_bits, False), layer.name, zero_extend=extend)
        return stages
    beat = input_beat(layer)
    convert(beat, total)
    add("mbdsl_fifo", f"{name}_fifo", {"WIDTH": cur.width, "DEPTH": fifo_depth(layer)}, cur)
    w = window(layer)
    if w is not None:
        add("mbdsl_swg", f"{name}_swg", {
            "IFM_H": w.ifm_h, "IFM_W": w.ifm_w, "C": w.channels, "K": w.kernel, "STRIDE": w.stride,
            "PAD": w.pad, "BITS": cur.bits, "CPAR": w.cpar, "KPAR": w.kpar, "DW": int(w.depthwise),
        } | ({"PIX": w.pixels} if w.pixels > 1 else {}), Stream(w.cpar * w.kpar, cur.bits, cur.signed))
    f = layer.fold
    if isinstance(layer, ir.AvgPool):
        pool = {
            "C": layer.in_shape.c, "PE": f.pe, "N_PIX": layer.in_shape.h * layer.in_shape.w, "IN_BITS": cur.bits,
            "SUM_BITS": layer.acc_type.bits, "SHIFT": layer.shift, "OUT_BITS": layer.act_type.bits,
        }
        if requant is not None:
            rq = _requant(requant, layer.acc_type.min, layer.acc_type.max, 0, name)
            pool |= {"SHIFT": rq["RQ_SHIFT"], "REQUANT": 1, "M0_BITS": rq["RQ_M0_BITS"],
                     "PROD_BITS": rq["RQ_PROD_BITS"], "RQ_FILE": rq["RQ_FILE"]}
        add("mbdsl_pool", name, pool, Stream(f.pe, layer.act_type.bits, False), layer.name)
        return stages
    act = layer.act_type
    # a multiplier-style classifier starts its accumulation at its bias (not in its type)
    raw_bias = requant.bias if requant is not None and act is None else None
    acc = layer.acc_bits if raw_bias is None else acc_bits(layer.acc_type.min + int(np.min(raw_bias)), layer.acc_type.max + int(np.max(raw_bias)))
    thresholds = act is not None and requant is None
    common = {
        "PE": f.pe, "SIMD": f.simd, "IN_BITS": cur.bits, "IN_SIGNED": int(cur.signed),
        "W_BITS": layer.weight_type.bits, "W_SIGNED": 1, "ACC_BITS": acc,
        "N_THRES": act.levels - 1 if thresholds else 0,
        "OUT_BITS": act.bits if act is not None else acc, "OUT_MIN": act.min if act is not None else 0,
        "WEIGHT_FILE": f"weights/{name}.memh", "THRESH_FILE": f"thresholds/{name}.memh" if thresholds else "",
    }
    if layer.bias_type is not None or raw_bias is not None:
        common |= {"HAS_BIAS": 1, "BIAS_FILE": f"biases/{name}.memh"}
    if act is not None and requant is not None:
        common |= {"REQUANT": 1} | _requant(requant, layer.acc_type.min, layer.acc_type.max, requant.bias, name)
    common |= _mult_params(layer, cur)
    if f.weights != "rom":  # written at run time or streamed: no ROM file
        del common["WEIGHT_FILE"]
        common["WMEM"] = WMEM_CODES[f.weights]
    if isinstance(layer, ir.DwConv):
        c, k2 = layer.matrix
        shape = {"C": c, "K2": k2}
        module = "mbdsl_vvau"
    else:
        mh, mw = layer.matrix
        shape = {"MH": mh, "MW": mw}
        module = "mbdsl_mvau"
    out = Stream(f.pe, act.bits, act.signed) if act is not None else Stream(f.pe, acc, True)
    if streamed(layer):  # the weight words come in on a port of the top, not from a ROM
        add("mbdsl_mvau_stream", name, shape | common, out, layer.name, weight_stream=8 * weight_word_bytes(layer))
    else:
        add(module, name, shape | common, out, layer.name)
    return stages


def _mult_params(layer: ir.Layer, x: Stream) -> dict:
    """The unit's MULT (and PACK) parameters for the layer's ``fold(mult = ...)``; none if unset
    (a depthwise unit packs lane pairs, no PACK)."""
    mult = layer.fold.mult
    if mult is None:
        return {}
    params = {"MULT": MULT_CODES[mult]}
    if mult == "packed" and not isinstance(layer, ir.DwConv):
        params["PACK"] = min(layer.fold.pe, packing(x.bits, x.signed, layer.weight_type.bits))
    return params


def plan(net: ir.Network, params: Params | None = None) -> tuple[Stream, list[Stage]]:
    """The input stream and the stages of the top, in stream order (``params`` is needed
    for a multiplier-style network, see the module docstring)."""
    _check_supported(net, params)
    mult = needs_params(net)
    stages: list[Stage] = []
    if net.input.format == "nv12":
        head = Stream(1, 8, False)
        stages.append(Stage("mbdsl_nv12", "frontend_nv12", (("W", net.input.shape.w), ("H", net.input.shape.h)), Stream(3, 8, False)))
    else:
        head = Stream(net.input.shape.c * net.input.pixels_per_beat, 8, False)
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
        for stage in layer_stages(layer, cur, params[layer.name] if mult else None):
            add(stage, layer)
    if (dwc := _converter("out", cur, 1, net.layers[-1].out_shape.size)) is not None:
        add(dwc, None)
    if cur.width > MAX_PORT_BITS:
        raise UnsupportedByBackend(f"the output port would be {cur.width} bits wide", net.layers[-1].span, "end the network with a topk")
    return head, stages


@attrs.frozen
class WeightLoad:
    """The loader (mbdsl_wload) of a unit whose weights are written at run time: its place
    in the load chain and the unit's weight memory (``width`` x ``depth`` words)."""

    index: int
    width: int
    depth: int

    @property
    def addr_bits(self) -> int:
        return max(1, (self.depth - 1).bit_length())


def weight_loads(stages: list[Stage]) -> dict[str, WeightLoad]:
    """The loaders of the units with run-time weights (``WMEM`` 1), by unit instance, in
    stream order (the order of their words in the load stream)."""
    loads = {}
    for s in stages:
        p = dict(s.params)
        if p.get("WMEM") == WMEM_CODES["uram"]:
            loads[s.instance] = WeightLoad(len(loads), p["PE"] * p["SIMD"] * p["W_BITS"], p["MH"] // p["PE"] * (p["MW"] // p["SIMD"]))
    return loads


def _memories(net: ir.Network, params: Params, stages: list[Stage]) -> dict[str, str]:
    files = {}
    loads, widths = [], []  # the run-time weights' words, in stream order, and their widths
    units = {s.layer: dict(s.params) for s in stages if s.layer}
    for layer in net.layers:
        name = ident(layer.name)
        p = params[layer.name]
        unit = units[layer.name]
        if unit.get("REQUANT"):  # MAC layers (RQ_*) and the pool (no bias)
            bias_bits, m0_bits = unit.get("RQ_BIAS_BITS", 1), unit.get("RQ_M0_BITS", unit.get("M0_BITS"))
            bias = p.bias if p.bias is not None else 0
            words = pack.requant_words(bias, p.m0, layer.out_shape.c, unit["PE"], bias_bits, m0_bits)
            files[f"requant/{name}.memh"] = pack.memh(words, unit["PE"] * (bias_bits + m0_bits))
        if not isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            continue
        f = layer.fold
        if f.weights != "uram":  # a ROM's contents, or the words a streamed unit's port is fed
            files[f"weights/{name}.memh"] = pack.weight_memh(p.weights.reshape(layer.matrix), f.pe, f.simd, layer.weight_type.bits)
        else:
            loads.append(pack.weight_words(p.weights.reshape(layer.matrix), f.pe, f.simd, layer.weight_type.bits))
            widths.append(f.pe * f.simd * layer.weight_type.bits)
        if unit["N_THRES"]:
            t = pack.clip_thresholds(p.thresholds, layer.acc_type.min, layer.acc_type.max)
            files[f"thresholds/{name}.memh"] = pack.threshold_memh(t, f.pe, unit["ACC_BITS"])
        if unit.get("HAS_BIAS"):
            files[f"biases/{name}.memh"] = pack.bias_memh(p.bias, f.pe, unit["ACC_BITS"])
    if loads:
        files[LOAD_FILE] = pack.load_memh(loads, widths)
    return files


_ENV = environment("mbdsl.backends.rtl")


def _sv_value(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else str(int(v))


def manifest(net: ir.Network, head: Stream, stages: list[Stage]) -> dict:
    """What a simulation needs to drive the top and read its traces."""
    found = {
        "top": top_name(net),
        "input": attrs.asdict(head),
        "output": attrs.asdict(stages[-1].out),
        "traces": [{"layer": s.layer, "file": f"trace/{ident(s.layer)}.memh", **attrs.asdict(s.out)} for s in stages if s.layer],
    }
    if weight_loads(stages):
        found["weight_load"] = LOAD_FILE
    streams = [{"port": f"{s.instance}_w", "file": f"weights/{s.instance}.memh", "bits": s.weight_stream} for s in stages if s.weight_stream]
    if streams:  # each a top-level input the harness feeds with the unit's weight words, cyclically
        found["weight_streams"] = streams
    return found


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
    head, stages = plan(net, params)
    loads = weight_loads(stages)
    modules = sorted({s.module for s in stages} | ({"mbdsl_wload"} if loads else set()))
    sources = sorted({p.name for m in modules for p in hdl_sources(m)})
    top = _ENV.get_template("top.sv.j2").render(
        top=top_name(net), net=net, head=head, stages=stages, loads=loads, sv_value=_sv_value,
    )
    files = {f"{top_name(net)}.sv": top}
    files.update({f"hdl/{name}": (HDL_DIR / name).read_text() for name in sources})
    files.update(_memories(net, params, stages))
    files["manifest.json"] = json.dumps(manifest(net, head, stages), indent=2) + "\n"
    files["README.md"] = _diagram(net, stages)
    return files


