"""Choosing PE/SIMD for every layer: the fewest MAC lanes for a target II, or the best II
within a lane budget, with a proof of optimality.

Every layer's cycles depend only on its own folding (``dataflow.layer_cycles``, which
counts its window generator too), and the II is the maximum over layers. So for a target
II each layer independently takes its cheapest legal folding that meets it, and the
smallest II whose cheapest foldings fit a budget is optimal: any smaller II forces every
layer to a folding at least as expensive as at the next candidate below, which already
exceeds the budget. ``Plan.bound`` records that witness.
"""

from __future__ import annotations

import attrs

from . import ir
from .dataflow import layer_cycles
from .passes.folding import legal_pe, legal_simd

__all__ = ["Option", "Plan", "Infeasible", "options", "fold_for_ii", "fold_for_lanes", "MAC_KINDS"]

MAC_KINDS = (ir.Conv, ir.DwConv, ir.FC)
"""Layers whose PE*SIMD count as MAC lanes."""


@attrs.frozen(order=True)
class Option:
    """One legal folding of a layer, ordered by cost: lanes, then PE (each PE lane carries a
    threshold unit, so for equal lanes fewer PEs is cheaper)."""

    lanes: int
    pe: int
    simd: int
    cycles: int = attrs.field(order=False)


@attrs.frozen
class Plan:
    layers: tuple
    ii: int
    lanes: int
    bound: tuple[int, int] | None = None
    """(II, lanes): the fastest II below the plan's and the MAC lanes it would need."""


class Infeasible(Exception):
    """No folding meets the goal; ``layer`` limits it and ``best`` is its fastest cycles."""

    def __init__(self, layer: ir.Layer, best: int, detail: str):
        super().__init__(detail)
        self.layer = layer
        self.best = best


def _with(layer, pe: int, simd: int):
    return attrs.evolve(layer, fold=attrs.evolve(layer.fold, pe=pe, simd=simd, auto=False))


def options(layer: ir.Layer) -> list[Option]:
    """Every legal folding of a layer that is not dominated (slower and not cheaper), by cycles."""
    if isinstance(layer, ir.TopK):
        return [Option(1, 1, 1, layer_cycles(layer))]
    every = sorted(Option(pe * simd, pe, simd, layer_cycles(_with(layer, pe, simd))) for pe in legal_pe(layer) for simd in legal_simd(layer))
    kept: list[Option] = []
    for opt in every:  # cheapest first: keep an option only if it is faster than all cheaper ones
        if not kept or opt.cycles < kept[-1].cycles:
            kept.append(opt)
    return kept


def _cheapest(opts: list[Option], ii: int) -> Option | None:
    for opt in opts:  # opts are by increasing cost and decreasing cycles
        if opt.cycles <= ii:
            return opt
    return None


def _lanes(layers) -> int:
    return sum(l.fold.lanes() for l in layers if isinstance(l, MAC_KINDS))


def _free(net: ir.Network, only_auto: bool) -> list[int]:
    return [i for i, l in enumerate(net.layers) if not isinstance(l, ir.TopK) and (l.fold.auto or not only_auto)]


def fold_for_ii(net: ir.Network, ii: int, only_auto: bool = False) -> Plan:
    """The cheapest folding with every layer at most ``ii`` cycles per frame."""
    layers = list(net.layers)
    for i in _free(net, only_auto):
        opts = options(layers[i])
        choice = _cheapest(opts, ii)
        if choice is None:
            raise Infeasible(layers[i], opts[-1].cycles, f"layer {layers[i].name} needs at least {opts[-1].cycles:,} cycles per frame")
        layers[i] = _with(layers[i], choice.pe, choice.simd)
    achieved = max(layer_cycles(l) for l in layers)
    if achieved > ii:
        worst = max(layers, key=layer_cycles)
        raise Infeasible(worst, layer_cycles(worst), f"layer {worst.name} is fixed at {layer_cycles(worst):,} cycles per frame")
    return Plan(tuple(layers), achieved, _lanes(layers))


def fold_for_lanes(net: ir.Network, lanes: int, only_auto: bool = False) -> Plan:
    """The fastest II whose cheapest folding spends at most ``lanes`` MAC lanes."""
    free = _free(net, only_auto)
    fixed = [layer_cycles(l) for i, l in enumerate(net.layers) if i not in free]
    floor = max(fixed, default=0)
    per_layer = {i: options(net.layers[i]) for i in free}
    candidates = sorted({o.cycles for opts in per_layer.values() for o in opts if o.cycles >= floor} | ({floor} if fixed else set()))
    feasible_from = None
    lo, hi = 0, len(candidates) - 1
    while lo <= hi:  # the lanes needed fall as the II grows: binary search the smallest fitting II
        mid = (lo + hi) // 2
        try:
            plan = fold_for_ii(net, candidates[mid], only_auto)
        except Infeasible:
            lo = mid + 1
            continue
        if plan.lanes <= lanes:
            feasible_from, hi = mid, mid - 1
        else:
            lo = mid + 1
    if feasible_from is None:
        slowest = fold_for_ii(net, candidates[-1], only_auto)
        raise Infeasible(
            max(slowest.layers, key=layer_cycles),
            slowest.ii,
            f"even the slowest folding needs {slowest.lanes:,} MAC lanes, more than {lanes:,}",
        )
    plan = fold_for_ii(net, candidates[feasible_from], only_auto)
    bound = None
    if feasible_from > 0:
        try:
            faster = fold_for_ii(net, candidates[feasible_from - 1], only_auto)
            bound = (faster.ii, faster.lanes)
        except Infeasible:
            bound = None
    return attrs.evolve(plan, bound=bound)
