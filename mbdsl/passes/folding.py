"""Folding: resolve ``fold(auto)`` and check that every PE/SIMD can be built (the rules are
:mod:`mbdsl.legality`'s).
"""

from __future__ import annotations

from typing import Callable

import attrs

from .. import ir
from ..autofold import Infeasible, LayerCost, explain, solve_pixels
from ..dataflow import layer_cycles, with_pixels
from ..dsp48 import DSP_A_BITS, DSP_B_BITS, pair_operand_bits
from ..errors import FoldingError
from ..legality import legal_folds, legal_mults, legal_pe, legal_simd, with_fold

__all__ = ["resolve_folding", "check_folding", "AUTO_LANE_LIMIT"]

AUTO_LANE_LIMIT = 64
"""Without a goal, fold(auto) balances layers to the fastest II every auto layer can reach
with at most this many PE*SIMD lanes."""


def _describe(values: list[int]) -> str:
    return ", ".join(map(str, values)) if len(values) <= 16 else ", ".join(map(str, values[:16])) + ", ..."


def check_folding(net: ir.Network) -> ir.Network:
    for layer in net.layers:
        if isinstance(layer, ir.TopK):
            continue
        f = layer.fold
        what = {ir.Conv: "output channels", ir.FC: "outputs", ir.DwConv: "channels", ir.AvgPool: "channels"}[type(layer)]
        count = layer.matrix[0] if isinstance(layer, (ir.Conv, ir.FC)) else layer.in_shape.c
        pes = legal_pe(layer)
        pe, simd = _keys(layer)
        if f.pe not in pes:
            raise FoldingError(
                f"{pe}={f.pe} does not divide the {count} {what} of layer {layer.name}",
                f.pe_span or layer.span,
                f"legal {pe} values: {_describe(pes)}",
            )
        simds = legal_simd(layer)
        if f.simd not in simds:
            raise FoldingError(_simd_message(layer), f.simd_span or layer.span, f"legal {simd} values: {_describe(simds)}")
        if f.mult is not None and f.mult not in legal_mults(layer):
            raise FoldingError(_pair_message(layer), f.mult_span or f.span or layer.span,
                               f"use {_mult_key(layer)} = dsp (one product per DSP slice) or {_mult_key(layer)} = lut")
    return net


def _mult_key(layer) -> str:
    return "dw_mult" if _keys(layer)[0] == "dw_pe" else "mult"


def _pair_message(layer: ir.DwConv) -> str:
    x, w = layer.in_type, layer.weight_type
    a, b = pair_operand_bits(x.bits, x.signed, w.bits, w.signed)
    return (f"{_mult_key(layer)} = packed: two lanes of depthwise layer {layer.name} ({x} activations x {w} weights) need a "
            f"{a} x {b}-bit multiply, more than a DSP48E2's {DSP_A_BITS} x {DSP_B_BITS}")


def _keys(layer) -> tuple[str, str]:
    """How the user spelt the fold keys: the depthwise half of a dwsep block (named
    'bN.dw' by the elaborator) takes dw_pe and dw_simd."""
    if isinstance(layer, ir.DwConv) and layer.name.endswith(".dw"):
        return "dw_pe", "dw_simd"
    return "PE", "SIMD"


def _simd_message(layer) -> str:
    s = layer.fold.simd
    if isinstance(layer, ir.DwConv):
        return f"{_keys(layer)[1]}={s} does not divide the {layer.kernel}x{layer.kernel} kernel positions of depthwise layer {layer.name}"
    if isinstance(layer, ir.FC):
        return f"SIMD={s} does not divide the {layer.matrix[1]} inputs of layer {layer.name}"
    c, k = layer.in_shape.c, layer.kernel
    return (
        f"SIMD={s} is neither a divisor of the {c} input channels of layer {layer.name} nor {c} times a "
        f"divisor of its {k * k} kernel positions, so no window generator can feed it"
    )


def resolve_folding(net: ir.Network, cost_model: Callable[[ir.Network], LayerCost | None] | None = None) -> ir.Network:
    """Fold every ``fold(auto)`` layer: for the ``target fpga`` goal if there is one
    (:mod:`mbdsl.autofold`, the other layers as written), else with the fewest lanes that
    reach the fastest II every auto layer can reach within AUTO_LANE_LIMIT lanes.

    ``cost_model(net)`` gives the resource model the goal is optimized with (the tools pass
    the RTL backend's, ``backends.rtl.cost.layer_cost``); without one only MAC lanes count,
    and LUT or BRAM budgets cannot be met."""
    auto = [i for i, layer in enumerate(net.layers) if not isinstance(layer, ir.TopK) and layer.fold.auto]
    if not auto:
        return net
    layers = _balance(net.layers, auto)
    goal = net.fpga.goal if net.fpga is not None else None
    pixels = net.input.pixels
    if goal is not None:
        balanced = net.replace_layers(layers)
        coster = cost_model(balanced) if cost_model is not None else None
        try:
            plan = solve_pixels(balanced, goal, net.fpga.clock_hz, only_auto=True, coster=coster)
        except Infeasible as exc:
            message, hint = explain(exc, goal, net.fpga.clock_hz)
            raise FoldingError(message, goal.span, hint) from None
        layers, pixels = list(plan.layers), plan.pixels
    return with_pixels(net.replace_layers(with_fold(l, l.fold.pe, l.fold.simd) if i in auto else l for i, l in enumerate(layers)), pixels)


def _balance(layers, auto: list[int]) -> list:
    """The auto layers folded with the fewest lanes that reach the common target II (still
    marked auto, for a goal to refine)."""
    layers = list(layers)
    fixed = [layer_cycles(l) for i, l in enumerate(layers) if i not in auto and not isinstance(l, ir.TopK)]
    best = [min(layer_cycles(with_fold(layers[i], pe, simd)) for pe, simd in legal_folds(layers[i]) if pe * simd <= AUTO_LANE_LIMIT) for i in auto]
    target = max(fixed + best)
    for i in auto:
        choices = [(pe * simd, pe, simd) for pe, simd in legal_folds(layers[i]) if layer_cycles(with_fold(layers[i], pe, simd)) <= target]
        _, pe, simd = min(choices)
        layers[i] = attrs.evolve(layers[i], fold=attrs.evolve(layers[i].fold, pe=pe, simd=simd))
    return layers
