"""Folding: resolve ``fold(auto)`` and check that every PE/SIMD can be built.

Legality (FINN's rules, plus what our window generators can emit):
matrix-vector units need PE | MH and SIMD | MW, and a convolution's SIMD either divides its
input channels (channel-folded windows) or is a multiple C*P of them with P | K*K (the
window generator emits P kernel positions per beat); vector (depthwise) units need
PE | channels and SIMD | K*K; the pool needs PE | channels.
"""

from __future__ import annotations

import attrs

from .. import ir
from ..dataflow import divisors, layer_cycles
from ..errors import FoldingError

__all__ = ["resolve_folding", "check_folding", "legal_pe", "legal_simd", "AUTO_LANE_LIMIT"]

AUTO_LANE_LIMIT = 64
"""Without a goal, fold(auto) balances layers to the fastest II every auto layer can reach
with at most this many PE*SIMD lanes."""


def legal_pe(layer: ir.Layer) -> list[int]:
    if isinstance(layer, (ir.Conv, ir.FC)):
        return divisors(layer.matrix[0])
    if isinstance(layer, (ir.DwConv, ir.AvgPool)):
        return divisors(layer.in_shape.c)
    return [1]


def legal_simd(layer: ir.Layer) -> list[int]:
    if isinstance(layer, ir.Conv):
        c, k = layer.in_shape.c, layer.kernel
        return sorted(set(divisors(c)) | {c * p for p in divisors(k, k)})
    if isinstance(layer, ir.FC):
        s = layer.in_shape
        return divisors(s.h, s.w, s.c)  # MW = H*W*C
    if isinstance(layer, ir.DwConv):
        return divisors(layer.kernel, layer.kernel)
    return [1]


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
    return net


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


def resolve_folding(net: ir.Network) -> ir.Network:
    """Fold every ``fold(auto)`` layer: for the ``target fpga`` goal if there is one
    (:mod:`mbdsl.autofold`, the other layers as written), else with the fewest lanes that
    reach the fastest II every auto layer can reach within AUTO_LANE_LIMIT lanes."""
    auto = [i for i, layer in enumerate(net.layers) if not isinstance(layer, ir.TopK) and layer.fold.auto]
    if not auto:
        return net
    layers = _balance(net.layers, auto)
    goal = net.fpga.goal if net.fpga is not None else None
    if goal is not None:
        from ..autofold import Infeasible, explain, solve  # autofold builds on this module

        try:
            layers = list(solve(net.replace_layers(layers), goal, net.fpga.clock_hz, only_auto=True).layers)
        except Infeasible as exc:
            message, hint = explain(exc, goal, net.fpga.clock_hz)
            raise FoldingError(message, goal.span, hint) from None
    return net.replace_layers(_with(l, l.fold.pe, l.fold.simd) if i in auto else l for i, l in enumerate(layers))


def _balance(layers, auto: list[int]) -> list:
    """The auto layers folded with the fewest lanes that reach the common target II (still
    marked auto, for a goal to refine)."""
    layers = list(layers)
    fixed = [layer_cycles(l) for i, l in enumerate(layers) if i not in auto and not isinstance(l, ir.TopK)]
    best = [min(layer_cycles(_with(layers[i], pe, simd)) for pe, simd in _options(layers[i]) if pe * simd <= AUTO_LANE_LIMIT) for i in auto]
    target = max(fixed + best)
    for i in auto:
        choices = [(pe * simd, pe, simd) for pe, simd in _options(layers[i]) if layer_cycles(_with(layers[i], pe, simd)) <= target]
        _, pe, simd = min(choices)
        layers[i] = attrs.evolve(layers[i], fold=attrs.evolve(layers[i].fold, pe=pe, simd=simd))
    return layers


def _options(layer):
    return [(pe, simd) for pe in legal_pe(layer) for simd in legal_simd(layer)]


def _with(layer, pe: int, simd: int):
    return attrs.evolve(layer, fold=attrs.evolve(layer.fold, pe=pe, simd=simd, auto=False))
