"""The resources of the generated top, per layer and per stage, from the unit model
(:mod:`.resources`) over the stages :func:`.top.plan` builds; and :func:`layer_cost`, the
RTL resource model as the folding optimizer (``mbdsl.autofold.LayerCost``) consults it."""

from __future__ import annotations

from typing import Callable

import attrs

from ... import ir
from ...dataflow import input_beat
from ...errors import MbdslError
from .resources import Resources, unit
from .top import Stream, ident, layer_stages, plan

__all__ = ["unit_stages", "layer_resources", "input_streams", "StageResources", "stage_resources", "network_resources", "layer_cost"]


def unit_stages(layer: ir.Layer, in_bits: int, in_signed: bool) -> list[tuple[str, dict]]:
    """The units a layer instantiates for its own folding, after any width converter: its
    FIFO, window generator and compute unit, as :func:`.top.layer_stages` builds them."""
    beat = 1 if isinstance(layer, ir.TopK) else input_beat(layer)
    return [(s.module, dict(s.params)) for s in layer_stages(layer, Stream(beat, in_bits, in_signed))]


def layer_resources(layer: ir.Layer, in_bits: int, in_signed: bool, dsp: str = "auto") -> Resources:
    """Resources of a layer's own units (FIFO, window generator, compute unit)."""
    return sum((unit(m, p, dsp) for m, p in unit_stages(layer, in_bits, in_signed)), Resources())


def input_streams(net: ir.Network) -> dict[str, tuple[int, bool]]:
    """(bits, signed) of the stream each layer receives in the RTL top; folding does not change it."""
    _, stages = plan(net)
    names = {ident(l.name): l.name for l in net.layers}
    found: dict[str, tuple[int, bool]] = {}
    prev = None
    for s in stages:
        base = s.instance
        for suffix in ("_dwc", "_fifo", "_swg"):
            if base.endswith(suffix) and base[: -len(suffix)] in names:
                base = base[: -len(suffix)]
                break
        if base in names and names[base] not in found and s.module in ("mbdsl_fifo", "mbdsl_dwc"):
            params = dict(s.params)
            bits = params["BITS"] if s.module == "mbdsl_dwc" else None
            src = prev
            found[names[base]] = (bits or (src.bits if src else 8), src.signed if src else False)
        prev = s.out
    return found


@attrs.frozen
class StageResources:
    layer: str
    """Owning layer's name, "input" (NV12 front end) or "output" (final width converter)."""
    module: str
    instance: str
    resources: Resources


def stage_resources(net: ir.Network, dsp: str = "auto") -> list[StageResources]:
    """Resources of every stage of the generated top (``backends.rtl.top.plan``), in stream order."""
    _, stages = plan(net)
    names = {ident(l.name): l.name for l in net.layers}
    out = []
    for s in stages:
        owner = "input" if s.instance == "frontend_nv12" else "output"
        for suffix in ("", "_dwc", "_fifo", "_swg"):
            if suffix and not s.instance.endswith(suffix):
                continue
            base = s.instance[: len(s.instance) - len(suffix)] if suffix else s.instance
            if base in names:
                owner = names[base]
                break
        out.append(StageResources(owner, s.module, s.instance, unit(s.module, dict(s.params), dsp)))
    return out


def network_resources(net: ir.Network, dsp: str = "auto") -> dict[str, Resources]:
    """Resources per layer of the generated top (every stage of ``plan``, width converters
    and the NV12 front end included), in stream order; keys are layer names, plus "input"
    for the NV12 converter and "output" for the final width converter."""
    per: dict[str, Resources] = {}
    for s in stage_resources(net, dsp):
        per[s.layer] = per.get(s.layer, Resources()) + s.resources
    return per


def layer_cost(net: ir.Network, dsp: str = "auto") -> Callable[[ir.Layer], Resources | None] | None:
    """The resources of a layer's own units at its folding, for the folding optimizer; None
    for a network the RTL backend does not build (e.g. the multiplier style): then only MAC
    lanes count."""
    try:
        streams = input_streams(net)
    except MbdslError:
        return None

    def cost(layer: ir.Layer) -> Resources | None:
        if layer.name not in streams:
            return None
        bits, signed = streams[layer.name]
        return layer_resources(layer, bits, signed, dsp)

    return cost
