"""The resources of the generated top, per layer and per stage, from the unit model
(:mod:`.resources`) over the stages :func:`.top.plan` builds; and :func:`layer_cost`, the
RTL resource model as the folding optimizer (``mbdsl.autofold.LayerCost``) consults it.

A multiplier-style network's stages take widths from its parameters (each layer's bias, m0
and shift, :func:`.top.layer_stages`), so every function here takes them as ``params``, as
:func:`.top.plan` does: the model then sizes exactly the stages the generated top holds.
"""

from __future__ import annotations

from typing import Callable

import attrs

from ... import ir
from ...dataflow import input_beat
from ...errors import MbdslError
from .resources import Resources, unit
from ...params import LayerParams, Params
from .top import Stage, Stream, layer_stages, needs_params, plan

__all__ = ["unit_stages", "layer_resources", "input_streams", "StageResources", "stage_resources", "network_resources", "layer_cost"]


def unit_stages(layer: ir.Layer, in_bits: int, in_signed: bool, requant: LayerParams | None = None) -> list[tuple[str, dict]]:
    """The units a layer instantiates for its own folding, after any width converter: its
    FIFO, window generator and compute unit, as :func:`.top.layer_stages` builds them
    (``requant``: the layer's parameters in a multiplier-style network)."""
    beat = 1 if isinstance(layer, ir.TopK) else input_beat(layer)
    return [(s.module, dict(s.params)) for s in layer_stages(layer, Stream(beat, in_bits, in_signed), requant)]


def layer_resources(layer: ir.Layer, in_bits: int, in_signed: bool, dsp: str = "auto", requant: LayerParams | None = None) -> Resources:
    """Resources of a layer's own units (FIFO, window generator, compute unit)."""
    return sum((unit(m, p, dsp) for m, p in unit_stages(layer, in_bits, in_signed, requant)), Resources())


def _owners(net: ir.Network, params: Params | None) -> tuple[Stream, list[tuple[str, Stage]]]:
    """The stream into the first layer and every stage of the top with the name of what it
    belongs to: a layer (its stages end with the one that outputs the layer), "input" (the
    NV12 front end) or "output" (the final width converter)."""
    head, stages = plan(net, params)
    out, pending = [], []
    for s in stages:
        if s.module == "mbdsl_nv12":
            out.append(("input", s))
            head = s.out
            continue
        pending.append(s)
        if s.layer is not None:
            out += [(s.layer, p) for p in pending]
            pending = []
    return head, out + [("output", p) for p in pending]


def input_streams(net: ir.Network, params: Params | None = None) -> dict[str, tuple[int, bool]]:
    """(bits, signed) of the stream each layer receives in the RTL top; folding does not change it."""
    cur, owned = _owners(net, params)
    found = {}
    for owner, s in owned:
        if owner not in ("input", "output") and owner not in found:
            found[owner] = (cur.bits, cur.signed)
        cur = s.out
    return found


@attrs.frozen
class StageResources:
    layer: str
    """Owning layer's name, "input" (NV12 front end) or "output" (final width converter)."""
    module: str
    instance: str
    resources: Resources


def stage_resources(net: ir.Network, dsp: str = "auto", params: Params | None = None) -> list[StageResources]:
    """Resources of every stage of the generated top (``backends.rtl.top.plan``), in stream order."""
    return [StageResources(owner, s.module, s.instance, unit(s.module, dict(s.params), dsp)) for owner, s in _owners(net, params)[1]]


def network_resources(net: ir.Network, dsp: str = "auto", params: Params | None = None) -> dict[str, Resources]:
    """Resources per layer of the generated top (every stage of ``plan``, width converters
    and the NV12 front end included), in stream order; keys are layer names, plus "input"
    for the NV12 converter and "output" for the final width converter."""
    per: dict[str, Resources] = {}
    for s in stage_resources(net, dsp, params):
        per[s.layer] = per.get(s.layer, Resources()) + s.resources
    return per


def layer_cost(net: ir.Network, dsp: str = "auto", params: Params | None = None) -> Callable[[ir.Layer], Resources | None] | None:
    """The resources of a layer's own units at its folding, for the folding optimizer; None
    for a network the RTL backend does not build, or a multiplier-style one without its
    ``params``: then only MAC lanes count."""
    try:
        streams = input_streams(net, params)
    except MbdslError:
        return None
    requant = params if needs_params(net) else None

    def cost(layer: ir.Layer) -> Resources | None:
        if layer.name not in streams:
            return None
        bits, signed = streams[layer.name]
        return layer_resources(layer, bits, signed, dsp, requant[layer.name] if requant is not None else None)

    return cost
