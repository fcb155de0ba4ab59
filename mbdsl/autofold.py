"""Choosing PE/SIMD for every layer: the fewest MAC lanes (or LUTs) for a target II, or the
best II within a budget of MAC lanes, LUTs or block RAMs, with a proof of optimality.

Every layer's cycles depend only on its own folding (``dataflow.layer_cycles``, which
counts its window generator too), and the II is the maximum over layers. Every cost used
here is a sum over layers of a per-layer figure that also depends only on the layer's own
folding: MAC lanes (PE*SIMD), or the LUTs, FFs, BRAM18s and DSPs of the units the layer
instantiates (its FIFO, window generator and compute unit). Those figures come from a
resource model passed in as a :class:`LayerCost` (the RTL backend's is
``backends.rtl.cost.layer_cost``); without one only MAC lanes count.
Width converters between layers depend on two neighbours' foldings and are left out of
the optimization (they are a fraction of a percent of a MobileNet); the reports count them.

**Cheapest folding for an II.** For a target II the layers are independent: each takes its
cheapest legal folding that meets the II, and the sum is the cheapest total. Costs are
compared lexicographically: by default (MAC lanes, LUTs, PE), so a layer first minimises its
lanes and among equal-lane foldings takes the fewest LUTs. The total is then minimal in
lanes, and among the plans with minimal lanes minimal in LUTs, since a plan with minimal
total lanes must have every layer at its own minimum. ``cost="lut"`` orders by (LUTs, lanes,
PE) instead: the fewest LUTs that reach the II.

The input port (one pixel, or one NV12 byte, per beat) is a stage of the II that no folding
changes: it bounds the II from below and is a candidate II like any layer's cycle count.

**Best II within a budget.** Let need(II) be the cheapest total at II. Raising the II only
adds legal choices to every layer, so need() never increases with the II, and the smallest
candidate II whose need fits the budget is optimal: any faster II is at most the next
candidate below (per-layer cycle counts are the only values the II can take), whose need
already exceeds the budget. ``Plan.bound`` records that witness: the next faster II and
what it needs. Candidates are searched by bisection.

With a budget on LUTs alone (or BRAMs alone) need() is the sum of per-layer minima. With
both, the per-layer choices must trade LUTs against BRAMs: need() is then the fewest LUTs
whose BRAM total fits, computed exactly by dynamic programming over the BRAM total (an
integer at most the budget), over each layer's foldings that are not dominated in
(BRAMs, LUTs). It is still monotone, so the bisection and the bound stay valid.

A device's budgets (``mbdsl.devices``) add FFs and DSPs, and on a family whose DSP mapping
is validated (UltraScale+) each layer's options are its foldings times its multiplier
mappings (``lut``, ``dsp``, ``packed`` where ``legality.legal_mults`` allows; a ``mult`` the
spec pins is kept), each priced by the resource model for that mapping. LUT multipliers
cost LUTs, DSP products cost DSP slices and fewer LUTs, so the DSP budget now trades
against the LUT budget: the same dynamic programming over the DSP total (instead of the
BRAM total) finds the fewest DSPs whose LUTs fit, exactly, whenever its BRAMs fit too;
where BRAMs and DSPs both bind the choice is a priced search (:func:`fold_for_budget` says
precisely what is exact), and ``Plan.bound_proven`` says whether the bound's II was proven
out of reach.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from . import ir
from .dataflow import input_cycles, layer_cycles, with_pixels
from .legality import legal_folds, legal_mults, with_fold, with_weights

__all__ = [
    "Option", "Plan", "Infeasible", "LayerCost", "LayerFigures", "options", "mappings", "every_option", "plan_of", "fold_for_ii",
    "fold_for_lanes", "fold_for_budget", "MAC_KINDS", "BUDGETS", "describe", "solve", "stream_order", "solve_pixels", "wider_ports", "explain",
    "place_weights",
]

MAC_KINDS = (ir.Conv, ir.DwConv, ir.FC)
"""Layers whose PE*SIMD count as MAC lanes."""

COSTS = ("lanes", "lut")


@attrs.frozen
class Option:
    """One legal folding of a layer with its cycles and estimated resources."""

    lanes: int
    pe: int
    simd: int
    cycles: int
    lut: float = 0.0
    ff: float = 0.0
    bram18: int = 0
    dsp: int = 0
    mult: str | None = None
    """The multiplier mapping this option builds the layer's products with (None: the layer's own)."""
    uram: int = 0
    weights: str | None = None
    """Where this option keeps the layer's weights (None: where the layer says, ``place_weights``)."""

    def key(self, cost: str = "lanes") -> tuple:
        """Sort key: ``"lanes"`` orders by MAC lanes, then LUTs, then PE (each PE lane carries
        a threshold unit); ``"lut"`` by LUTs, then lanes, then PE."""
        if cost == "lut":
            return (self.lut, self.lanes, self.pe, self.simd)
        return (self.lanes, self.lut, self.pe, self.simd)


@attrs.frozen
class Plan:
    layers: tuple
    ii: int
    lanes: int
    bound: tuple | None = None
    """(II, need): the fastest II below the plan's and what it would need (MAC lanes, or
    for resource budgets the total of ``bound_resource``, the budget it breaks)."""
    bound_resource: str | None = None
    bound_proven: bool = True
    """Whether no folding at the bound's II fits (see :func:`fold_for_budget`)."""
    lut: float = 0.0
    bram18: int = 0
    dsp: int = 0
    ff: float = 0.0
    uram: int = 0
    pixels: int | None = None
    """The input port's pixels per beat the plan needs (:func:`solve_pixels`); None: as written."""


class Infeasible(Exception):
    """No folding meets the goal; ``layer`` limits it (None: the input port) and ``best`` is
    its fastest cycles (or, for a resource budget, ``best`` is the least total and
    ``resource`` names it)."""

    def __init__(self, layer: ir.Layer | None, best: float, detail: str, resource: str = "cycles"):
        super().__init__(detail)
        self.layer = layer
        self.best = best
        self.resource = resource


class LayerFigures(Protocol):
    """A layer's estimated resources."""

    lut: float
    ff: float
    bram18: int
    dsp: int
    uram: int


class LayerCost(Protocol):
    """The resource model the optimizer consults: the figures of a layer's own units at the
    layer's folding, or None for a layer it has no figures for."""

    def __call__(self, layer: ir.Layer) -> LayerFigures | None: ...


def _option(layer, pe: int, simd: int, coster: LayerCost | None, mult: str | None = None) -> Option:
    folded = with_fold(layer, pe, simd, mult)
    lanes = pe * simd if isinstance(layer, MAC_KINDS) else 0
    r = coster(folded) if coster is not None else None
    if r is None:
        return Option(lanes, pe, simd, layer_cycles(folded), mult=mult)
    return Option(lanes, pe, simd, layer_cycles(folded), r.lut, r.ff, r.bram18, r.dsp, mult, r.uram)


def mappings(layer: ir.Layer, mults: tuple[str, ...] = ()) -> tuple[str | None, ...]:
    """The multiplier mappings the optimizer may give a layer: those of ``mults`` its unit can
    be built with (``legality.legal_mults``); (None,), the layer's own, when its spec pins
    ``mult`` or none applies."""
    if layer.fold.mult is not None:
        return (None,)
    return tuple(m for m in mults if m in legal_mults(layer)) or (None,)


def every_option(layer: ir.Layer, coster: LayerCost | None = None, mults: tuple[str, ...] = (),
                 places: tuple[str, ...] = ()) -> list[Option]:
    """Every legal folding of a layer, each with every mapping of :func:`mappings`, and if its
    weights are in ROM, with them in each of ``places`` the layer allows too (``weight_places``)."""
    if isinstance(layer, ir.TopK):
        return [_option(layer, 1, 1, coster)]
    opts = [_option(layer, pe, simd, coster, m) for pe, simd in legal_folds(layer) for m in mappings(layer, mults)]
    if layer.fold.weights != "rom":
        return opts
    for place in (p for p in places if p in getattr(layer, "weight_places", ())):
        moved = with_weights(layer, place)
        opts += [attrs.evolve(_option(moved, o.pe, o.simd, coster, o.mult), weights=place) for o in opts if o.weights is None]
    return opts


def _frontier(opts: list[Option], cost: str) -> list[Option]:
    kept: list[Option] = []
    for opt in sorted(opts, key=lambda o: o.key(cost)):  # cheapest first: keep if faster than all cheaper
        if not kept or opt.cycles < kept[-1].cycles:
            kept.append(opt)
    return kept


def options(layer: ir.Layer, coster: LayerCost | None = None, cost: str = "lanes") -> list[Option]:
    """Every legal folding of a layer that is not dominated (slower and not cheaper), by
    increasing cost and decreasing cycles."""
    if isinstance(layer, ir.TopK):
        return every_option(layer, coster)
    return _frontier(every_option(layer, coster), cost)


def _cheapest(opts: list[Option], ii: int) -> Option | None:
    for opt in opts:  # opts are by increasing cost and decreasing cycles
        if opt.cycles <= ii:
            return opt
    return None


def _lanes(layers) -> int:
    return sum(l.fold.lanes() for l in layers if isinstance(l, MAC_KINDS))


def _free(net: ir.Network, only_auto: bool) -> list[int]:
    return [i for i, l in enumerate(net.layers) if not isinstance(l, ir.TopK) and (l.fold.auto or not only_auto)]


def _totals(layers, coster: LayerCost | None) -> dict:
    tot = dict.fromkeys(BUDGETS, 0)
    if coster is None:
        return tot
    for l in layers:
        r = coster(l)
        if r is not None:
            for k in BUDGETS:
                tot[k] += getattr(r, k)
    return tot


def plan_of(layers, coster: LayerCost | None = None, bound=None, floor: int = 0) -> Plan:
    """The plan of a given folding: its II (at least ``floor``), MAC lanes and resource totals."""
    ii = max(floor, max(layer_cycles(l) for l in layers))
    return Plan(tuple(layers), ii, _lanes(layers), bound, **_totals(layers, coster))


def fold_for_ii(net: ir.Network, ii: int, only_auto: bool = False, cost: str = "lanes", coster: LayerCost | None = None,
                per_layer: dict | None = None) -> Plan:
    """The cheapest folding with every layer at most ``ii`` cycles per frame.

    ``cost="lanes"``: fewest MAC lanes, ties broken by the LUT estimate; ``cost="lut"``: fewest LUTs.
    """
    if cost not in COSTS:
        raise ValueError(f"cost {cost!r}: one of {', '.join(COSTS)}")
    port = input_cycles(net.input)
    if port > ii:  # the input port is a stage of the II too, and no folding changes it
        per_beat = "one beat per pixel" if net.input.pixels_per_beat == 1 else f"{net.input.pixels_per_beat} pixels per beat"
        raise Infeasible(None, port, f"the input port needs {port:,} cycles per frame ({per_beat})")
    layers = list(net.layers)
    for i in _free(net, only_auto):
        opts = per_layer[i] if per_layer is not None else options(layers[i], coster, cost)
        choice = _cheapest(opts, ii)
        if choice is None:
            raise Infeasible(layers[i], opts[-1].cycles, f"layer {layers[i].name} needs at least {opts[-1].cycles:,} cycles per frame")
        layers[i] = with_fold(layers[i], choice.pe, choice.simd)
    achieved = max(layer_cycles(l) for l in layers)
    if achieved > ii:
        worst = max(layers, key=layer_cycles)
        raise Infeasible(worst, layer_cycles(worst), f"layer {worst.name} is fixed at {layer_cycles(worst):,} cycles per frame")
    return plan_of(layers, coster, floor=port)


def _candidates(net: ir.Network, free: list[int], per_layer: dict) -> list[int]:
    fixed = [layer_cycles(l) for i, l in enumerate(net.layers) if i not in free] + [input_cycles(net.input)]
    floor = max(fixed)
    return sorted({o.cycles for opts in per_layer.values() for o in opts if o.cycles >= floor} | {floor})


def _bisect(candidates: list[int], fits) -> int | None:
    """Index of the smallest candidate II for which ``fits`` holds (it is monotone)."""
    found = None
    lo, hi = 0, len(candidates) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if fits(candidates[mid]):
            found, hi = mid, mid - 1
        else:
            lo = mid + 1
    return found


def fold_for_lanes(net: ir.Network, lanes: int, only_auto: bool = False, coster: LayerCost | None = None) -> Plan:
    """The fastest II whose cheapest folding spends at most ``lanes`` MAC lanes (ties between
    equal-lane foldings go to the fewest estimated LUTs)."""
    free = _free(net, only_auto)
    per_layer = {i: options(net.layers[i], coster, "lanes") for i in free}
    candidates = _candidates(net, free, per_layer)

    def need(ii):
        try:
            return fold_for_ii(net, ii, only_auto, "lanes", coster, per_layer)
        except Infeasible:
            return None

    at = _bisect(candidates, lambda ii: (p := need(ii)) is not None and p.lanes <= lanes)
    if at is None:
        slowest = fold_for_ii(net, candidates[-1], only_auto, "lanes", coster, per_layer)
        raise Infeasible(
            max(slowest.layers, key=layer_cycles),
            slowest.ii,
            f"even the slowest folding needs {slowest.lanes:,} MAC lanes, more than {lanes:,}",
        )
    plan = need(candidates[at])
    bound = None
    if at > 0 and (faster := need(candidates[at - 1])) is not None:
        bound = (faster.ii, faster.lanes)
    return attrs.evolve(plan, bound=bound)


BUDGETS = ("lut", "ff", "bram18", "dsp", "uram")
"""The resources a budget may limit, as :class:`Option` and :class:`Plan` name them."""
NAMES = {"lut": "LUTs", "ff": "FFs", "bram18": "BRAM18s", "dsp": "DSPs", "uram": "URAM288s"}

MEMORY_BOUND = ("bram18", "lut")
"""The resources weights moved to UltraRAM free (a ROM in block RAM, or in LUTs)."""

PRICE_STEPS = 24
"""Bisection steps of a LUT price, of a URAM288 or of a DSP slice (:func:`place_weights`)."""
PRICE_FLOOR = 1e-6
"""The least LUT price of a URAM288 (or DSP slice): weights move to UltraRAM only if that saves something."""


def _least_price(evaluate, inside):
    """``evaluate(price)`` at the least price (from ``PRICE_FLOOR``, bisected) for which
    ``inside`` holds (it holds from some price on), or None if no price up to 2**PRICE_STEPS does."""
    lo, hi = PRICE_FLOOR, 1.0
    best = evaluate(lo)
    if inside(best):
        return best
    for _ in range(PRICE_STEPS):  # a price high enough
        best = evaluate(hi)
        if inside(best):
            break
        lo, hi = hi, 2 * hi
    else:
        return None
    for _ in range(PRICE_STEPS):
        mid = (lo + hi) / 2
        got = evaluate(mid)
        if inside(got):
            hi, best = mid, got
        else:
            lo = mid
    return best


def place_weights(avail: dict, fixed: dict, limits: dict) -> tuple[dict, dict] | None:
    """One option per layer from ``avail`` (index -> options that meet the II, each with its
    weights in ROM or, where the layer allows, in UltraRAM: :func:`every_option` with
    ``places``) whose totals, with the ``fixed`` layers', fit every budget of ``limits``; None
    if the search finds none. The choice has the fewest LUTs + price x URAM288s within the
    BRAM budget (exact, by dynamic programming), the price the least at which the URAM288s fit
    ``limits["uram"]`` (bisected): weights move to UltraRAM where that saves block RAM or
    LUTs, the folding with them (a narrow memory wastes most of a URAM288's 72 bits), and
    stay in ROM where UltraRAM is scarce or saves nothing. If that breaks the DSP budget, a
    second price on DSPs, bisected the same way, moves products back into LUTs. Returns
    (choice, totals)."""
    fronts = {i: _pareto(opts) for i, opts in avail.items()}
    bram = ("bram18", limits["bram18"]) if "bram18" in limits else None

    def priced(per_uram, per_dsp):
        got = _choose_within(list(fronts), fronts, float("inf"), fixed, lambda o: o.lut + per_uram * o.uram + per_dsp * o.dsp, bram)
        return got if got and got[0] else None

    def within(resource):
        return lambda got: got is not None and got[1][resource] <= limits.get(resource, 0)

    def placed(per_dsp):
        return _least_price(lambda per_uram: priced(per_uram, per_dsp), within("uram"))

    best = placed(0.0)
    if best is not None and "dsp" in limits and not within("dsp")(best):
        best = _least_price(placed, within("dsp"))
    return best if best is not None and _over(best[1], limits) is None else None


def _choose_within(free, fronts, ii, fixed, weight, knap=None, fit=None):
    """The per-layer choices at ``ii`` with the least total ``weight``, or None if no choice
    meets the II. With ``knap`` = (resource, cap): the least among the choices whose total of
    that resource (BRAM18s or DSPs, an integer; fixed layers included) fits ``cap``, exactly,
    by dynamic programming over the total; with ``fit`` too, the choice with the least total
    of the resource whose total weight (of the free layers) is at most ``fit``, the least
    weight among those. Returns (choice, totals of every resource in BUDGETS, fixed layers
    included); the choice is empty if none fits."""
    import numpy as np

    avail = {}
    for i in free:
        opts = [o for o in fronts[i] if o.cycles <= ii]
        if not opts:
            return None
        avail[i] = opts

    def totals(choice):
        return choice, {r: fixed[r] + sum(getattr(o, r) for o in choice.values()) for r in BUDGETS}

    if knap is None:
        return totals({i: min(opts, key=lambda o: (weight(o), o.lanes, o.pe, o.simd)) for i, opts in avail.items()})
    res, limit = knap
    least = {**fixed, res: fixed[res] + sum(min(getattr(o, res) for o in opts) for opts in avail.values())}
    cap = limit - fixed[res]
    if cap < 0:  # the fixed layers alone exceed the budget
        return {}, least
    inf = float("inf")
    dp = np.full(cap + 1, inf)
    dp[0] = 0.0
    picks = []
    for i, opts in avail.items():
        # per layer, only foldings not dominated in (resource, weight) matter
        pareto, best = [], inf
        for o in sorted(opts, key=lambda o: (getattr(o, res), weight(o), o.lanes)):
            if weight(o) < best:
                pareto.append(o)
                best = weight(o)
        new = np.full(cap + 1, inf)
        arg = np.full(cap + 1, -1)
        for k, o in enumerate(pareto):
            used = getattr(o, res)
            if used > cap:
                continue
            shifted = np.full(cap + 1, inf)
            shifted[used:] = dp[: cap + 1 - used] + weight(o)
            better = shifted < new
            new[better] = shifted[better]
            arg[better] = k
        picks.append((i, pareto, arg))
        dp = new
    if fit is None:
        end = int(np.argmin(dp))
    else:
        within = np.flatnonzero(dp <= fit + 1e-9)
        end = int(within[0]) if within.size else 0
    if dp[end] == inf or fit is not None and dp[end] > fit + 1e-9:
        return {}, least
    choice, b = {}, end
    for i, pareto, arg in reversed(picks):  # walk back from the best total
        o = pareto[arg[b]]
        choice[i] = o
        b -= getattr(o, res)
    return totals(choice)


def _over(totals: dict, limits: dict) -> str | None:
    """The first resource whose total exceeds its limit, or None."""
    return next((r for r in BUDGETS if r in limits and totals[r] > limits[r] + 1e-9), None)


class _Unreachable(Exception):
    """A price's Lagrangian bound proves that no choice at the II fits (:func:`fold_for_budget`)."""


TRADE_STEPS = 24
"""Bisection steps of the LUT-per-DSP price when BRAMs and DSPs both bind (:func:`fold_for_budget`)."""


def fold_for_budget(net: ir.Network, lut: float | None = None, bram: int | None = None, only_auto: bool = False,
                    coster: LayerCost | None = None, ff: float | None = None, dsp: int | None = None,
                    mults: tuple[str, ...] = (), uram: int | None = None) -> Plan:
    """The fastest II with a folding whose estimated LUTs, BRAM18s, FFs and DSPs fit the
    budgets given; among those foldings, the one with the fewest LUTs (the fewest BRAMs with
    only a BRAM budget). ``mults``: the multiplier mappings (``ir.MULTS``) the search may give
    each layer whose spec does not pin one (:func:`mappings`), chosen with its folding; then
    among the foldings that fit, the one with the fewest DSPs, then the fewest LUTs
    (multiplies move into DSP slices only as far as the LUT budget needs).

    At each II the search first takes the fewest LUTs within the BRAM budget (exact, module
    docstring); if that breaks the LUT or BRAM budget the II is proven out of reach, and
    without mappings, if it breaks no budget, it is the answer. If it breaks the DSP budget,
    or with mappings to choose, the dynamic programming runs over the DSP total instead
    (BRAMs not limited): the fewest LUTs within the DSP budget, or with mappings the fewest
    DSPs whose LUTs fit the LUT budget; none is a proof too, and if its BRAMs and FFs fit it
    is the exact answer. Only if BRAMs and DSPs both bind is the choice a search: the fewest
    LUTs + price x DSPs within the BRAM budget, the price bisected to the least that meets
    the DSP budget (with mappings, the most that meets the LUT budget); a Lagrangian
    relaxation, each price's least total minus price x DSP budget bounding the LUTs from
    below, which proves the II out of reach when it exceeds the LUT budget. A broken FF
    budget is a search too: the least sum of (LUT, FF, DSP) shares of their budgets, BRAMs
    within theirs. The sum of every layer's least figure for some resource over its budget
    is a proof as well; ``Plan.bound_proven`` says whether the bound's II was proven.

    ``uram``: URAM288s to fill with weights. Where the choice above breaks the BRAM or LUT
    budget, :func:`place_weights` chooses the foldings again, each layer's weights in ROM or
    UltraRAM; if that fits every budget it is the answer (a search: with UltraRAM no II is
    proven out of reach by BRAMs or LUTs)."""
    limits = {r: v for r, v in (("lut", lut), ("ff", ff), ("bram18", bram), ("dsp", dsp), ("uram", uram)) if v is not None}
    if not limits:
        raise ValueError("give a LUT, FF, BRAM or DSP budget")
    if coster is None:
        raise Infeasible(net.layers[0], 0, "resource budgets need the RTL backend's resource model, which has no figures for "
                         "this network (the RTL backend does not build it, or its parameters were not given)", "support")
    free = _free(net, only_auto)
    everything = {i: every_option(net.layers[i], coster, mults) for i in free}
    # keep, per layer, the options that nothing else beats in cycles and every resource
    fronts = {i: _pareto(opts) for i, opts in everything.items()}
    fixed = _totals([l for i, l in enumerate(net.layers) if i not in free], coster)
    candidates = _candidates(net, free, fronts)
    extra = [r for r in ("lut", "ff", "dsp") if r in limits]
    in_bram = ("bram18", bram) if bram is not None else None

    def by_lut(o):
        return o.lut

    def trade(ii, spare):
        """((choice, totals) or None, proven): LUTs traded against DSPs at ``ii``. ``spare``:
        the fewest DSPs whose LUTs fit the LUT budget (mappings to choose: multiplies move
        into DSP slices only as far as the LUT budget needs); else the fewest LUTs within the
        DSP budget. ``proven``: no choice at ``ii`` fits."""
        cap = dsp if dsp is not None else fixed["dsp"] + sum(max(o.dsp for o in fronts[i] if o.cycles <= ii) for i in free)
        room = (limits["lut"] - fixed["lut"] if "lut" in limits else float("inf")) if spare else None
        choice, tot = _choose_within(free, fronts, ii, fixed, by_lut, ("dsp", cap), room)  # BRAMs not limited: exact
        if not choice or tot["lut"] > limits.get("lut", float("inf")) + 1e-9:
            return None, True
        broken = _over(tot, limits)
        if broken is None:
            return (choice, tot), False
        if broken != "bram18" or in_bram is None:
            return None, False

        # BRAMs bind too: the fewest LUTs + price x DSPs within the BRAM budget, at the most
        # (spare) or least price whose choice meets the LUT (DSP) budget; a higher price
        # never gives more DSPs or fewer LUTs
        def priced(price):
            got = _choose_within(free, fronts, ii, fixed, lambda o: o.lut + price * o.dsp, in_bram)
            if "lut" in limits and got[0] and got[1]["lut"] + price * (got[1]["dsp"] - cap) > limits["lut"] + 1e-9:
                raise _Unreachable  # the relaxation's bound: no choice within the BRAMs and DSPs has so few LUTs
            return got

        def inside(t):
            return t["lut"] <= limits["lut"] + 1e-9 if spare else t["dsp"] <= cap

        try:
            lo, hi = 0.0, 1.0
            good = priced(lo) if spare else None
            for _ in range(TRADE_STEPS):  # bracket the price where inside() changes
                got = priced(hi)
                if inside(got[1]) != spare:
                    good = good if spare else got
                    break
                lo, hi, good = hi, 2 * hi, got if spare else good
            else:
                return (good, False) if spare and _over(good[1], limits) is None else (None, False)
            for _ in range(TRADE_STEPS):
                mid = (lo + hi) / 2
                got = priced(mid)
                if inside(got[1]) == spare:
                    lo, good = (mid, got) if spare else (lo, good)
                else:
                    hi, good = (mid, good) if spare else (mid, got)
        except _Unreachable:
            return None, True
        return (good, False) if good[0] and _over(good[1], limits) is None else (None, False)

    with_places: dict = {}

    def placeable():
        """Per free layer, its options with the weights in ROM or UltraRAM (priced once, when first needed)."""
        if uram and not with_places:
            with_places.update({i: _pareto(every_option(net.layers[i], coster, mults, ("uram",))) for i in free})
        return with_places or fronts

    def placed(ii):
        """(choice, totals) at ``ii`` with weights in UltraRAM where that helps (:func:`place_weights`)
        that fits every budget, or None."""
        avail = {i: [o for o in opts if o.cycles <= ii] for i, opts in placeable().items()}
        return None if not all(avail.values()) else place_weights(avail, fixed, limits)

    def need(ii):
        """(choice, totals, proven): a choice at ``ii`` that fits if one was found (else the
        LUT-minimal one), its totals, and whether no choice can fit."""
        if lut is None and bram is not None:  # a BRAM budget and no LUT budget: the fewest BRAMs per layer
            got = _choose_within(free, fronts, ii, fixed, lambda o: (o.bram18, o.lut, o.lanes))
        else:
            got = _choose_within(free, fronts, ii, fixed, by_lut, in_bram)
        if got is None:
            return None
        choice, tot = got
        broken = _over(tot, limits)
        if uram and broken in MEMORY_BOUND and (found := placed(ii)) is not None:
            return (*found, False)
        if broken is None and not mults:
            return choice, tot, False
        # an exact relaxation is over its budget already (with no UltraRAM to move weights to)
        proven = broken in MEMORY_BOUND and not uram
        if not proven and (mults or broken == "dsp"):
            found, proven = trade(ii, bool(mults))
            if found is not None:
                return (*found, False)
        if broken is None:
            return choice, tot, False
        if not proven and broken in ("ff", "dsp"):
            balanced = _choose_within(free, fronts, ii, fixed, lambda o: sum(getattr(o, r) / max(limits[r], 1) for r in extra), in_bram)
            if balanced[0] and _over(balanced[1], limits) is None:
                return balanced[0], balanced[1], False
        every = placeable()  # with UltraRAM, a layer's least of each resource may be with its weights there
        floor = {r: fixed[r] + sum(min(getattr(o, r) for o in every[i] if o.cycles <= ii) for i in free) for r in BUDGETS}
        return choice, tot, proven or _over(floor, limits) is not None

    def fits(ii):
        got = need(ii)
        return got is not None and _over(got[1], limits) is None

    at = _bisect(candidates, fits)
    if at is None:
        raise _least(net, free, placeable(), fixed, limits, candidates[-1], need(candidates[-1]), coster)
    layers = list(net.layers)
    choice, _, _ = need(candidates[at])
    for i, o in choice.items():
        layers[i] = with_fold(layers[i], o.pe, o.simd, o.mult)
        if o.weights is not None:
            layers[i] = with_weights(layers[i], o.weights)
    bound, resource, proven = None, None, True
    if at > 0 and (faster := need(candidates[at - 1])) is not None:
        _, tot, proven = faster
        resource = _over(tot, limits)
        bound = (candidates[at - 1], tot[resource])
    return attrs.evolve(plan_of(layers, coster, bound, floor=input_cycles(net.input)), bound_resource=resource, bound_proven=proven)


def _least(net, free, fronts, fixed, limits, slowest, got, coster) -> Infeasible:
    """Why no folding fits, at the slowest II: a resource whose least total (every layer at
    its own least) exceeds its budget, else the LUTs the fewest-LUT folding within the BRAM
    budget needs; with the layer, auto or fixed, that takes most of it."""
    held = {i: r for i, l in enumerate(net.layers) if i not in free and (r := coster(l)) is not None}
    least = {i: {r: min(getattr(o, r) for o in fronts[i] if o.cycles <= slowest) for r in BUDGETS} for i in free}
    floor = {r: fixed[r] + sum(least[i][r] for i in free) for r in BUDGETS}
    key = _over(floor, limits)
    if key is not None:
        best, per, what = floor[key], {i: least[i][key] for i in free}, "even the cheapest folding"
    else:
        choice, tot, _ = got
        key = _over(tot, limits)
        best, per = tot[key], {i: getattr(o, key) for i, o in choice.items()}
        # exact for LUTs against BRAMs; with FF or DSP budgets in the conflict, a search result
        exact = key == "lut" and "bram18" in limits
        what = f"even the cheapest folding within {limits['bram18']:,} BRAM18s" if exact else "the best folding the search found"
    per |= {i: getattr(r, key) for i, r in held.items()}
    worst = max(per, key=per.get)
    return Infeasible(
        net.layers[worst], best,
        f"{what} needs {best:,.0f} {NAMES[key]}, more than {limits[key]:,.0f} (layer {net.layers[worst].name} alone needs {per[worst]:,.0f})",
        NAMES[key],
    )


def _pareto(opts: list[Option]) -> list[Option]:
    """Options not dominated in (cycles, LUTs, BRAMs, FFs, DSPs, URAMs): nothing else is at least
    as fast and at least as cheap in every resource."""
    kept = []
    for o in sorted(opts, key=lambda o: (o.cycles, o.lut, o.bram18, o.ff, o.dsp, o.uram, o.lanes)):
        if not any(k.lut <= o.lut and k.bram18 <= o.bram18 and k.ff <= o.ff and k.dsp <= o.dsp and k.uram <= o.uram for k in kept):
            kept.append(o)
    return kept


def describe(goal: ir.FoldGoal, clock_hz: float) -> str:
    """The goal in words, e.g. '2000 FPS at 200 MHz' or 'the fastest II within 5,764 MAC lanes'."""
    if goal.fps is not None:
        fps = f"{int(goal.fps):,}" if float(goal.fps).is_integer() else f"{goal.fps:,.6g}"
        return f"{fps} FPS at {clock_hz / 1e6:g} MHz"
    if goal.mac_lanes is not None:
        return f"the fastest II within {goal.mac_lanes:,} MAC lanes"
    if goal.device is not None:
        return f"the fastest II within {goal.device}"
    parts = [f"{v:,} {name}" for v, name in ((goal.lut, "LUTs"), (goal.bram, "BRAM18s"), (goal.ff, "FFs"), (goal.dsp, "DSPs")) if v is not None]
    return f"the fastest II within {' and '.join(parts)}"


def solve(net: ir.Network, goal: ir.FoldGoal, clock_hz: float, only_auto: bool = False, coster: LayerCost | None = None) -> Plan:
    """The folding that meets ``goal`` (raises :class:`Infeasible`, see :func:`explain`).
    A budget goal with off-chip memory (``goal.offchip_gbps``) that no folding meets with
    every weight on chip streams weights from off-chip memory (``fold(weights = stream)``),
    layer by layer in :func:`stream_order`, until a folding fits."""
    if goal.fps is not None:
        return fold_for_ii(net, int(clock_hz // goal.fps), only_auto, coster=coster)
    if goal.mac_lanes is not None:
        return fold_for_lanes(net, goal.mac_lanes, only_auto, coster=coster)

    def within_budget(n):
        return fold_for_budget(n, goal.lut, goal.bram, only_auto, coster=coster, ff=goal.ff, dsp=goal.dsp, mults=goal.mults, uram=goal.uram)

    try:
        return within_budget(net)
    except Infeasible as on_chip:
        if not goal.offchip_gbps or on_chip.resource not in ON_CHIP_MEMORY:
            raise
        streamed = net
        for i in stream_order(net, only_auto):
            streamed = streamed.replace_layers(streamed.layers[:i] + (with_weights(streamed.layers[i], "stream"),) + streamed.layers[i + 1:])
            try:
                return within_budget(streamed)
            except Infeasible as exc:
                if exc.resource not in ON_CHIP_MEMORY:
                    raise
        raise on_chip


ON_CHIP_MEMORY = tuple(NAMES[r] for r in MEMORY_BOUND + ("uram",))
"""The resources (as :class:`Infeasible` names them) that weights streamed from off-chip memory may free."""


def stream_order(net: ir.Network, only_auto: bool = False) -> list[int]:
    """The layers whose weights :func:`solve` may stream from off-chip memory (free to fold,
    weights in ROM, allowed a stream), in the order it streams them: those read the fewest
    times a frame first (a streamed unit reads its whole matrix again for every output pixel:
    an fc once, a 7x7 pointwise layer 49 times), the most weights first among equals."""
    free = [i for i in _free(net, only_auto) if "stream" in getattr(net.layers[i], "weight_places", ()) and net.layers[i].fold.weights == "rom"]

    def reads_then_size(i):
        layer = net.layers[i]
        rows, cols = layer.matrix
        return layer.out_shape.h * layer.out_shape.w, -rows * cols * layer.weight_type.bits

    return sorted(free, key=reads_then_size)


def wider_ports(net: ir.Network) -> list[int]:
    """The pixels per beat beyond one that :func:`solve_pixels` may give the input port: none
    if the spec sets them or the input streams NV12 bytes, else those dividing the width."""
    if net.input.pixels is not None or net.input.format != "u8":
        return []
    return [p for p in ir.PIXELS[1:] if net.input.shape.w % p == 0]


def solve_pixels(net: ir.Network, goal: ir.FoldGoal, clock_hz: float, only_auto: bool = False,
                 coster: LayerCost | None = None) -> Plan:
    """:func:`solve`; where the input port bounds the II (or the goal is out of its reach)
    and the spec leaves the port's pixels per beat unset, the same with 2, then 4 pixels per
    beat (while the image width allows): the plan with the fastest II, at the fewest pixels
    that reach it, and its ``pixels`` set (None: one pixel per beat will do)."""
    choices = [net.input.pixels] + wider_ports(net)
    best = None
    for pixels in choices:
        wider = with_pixels(net, pixels)
        try:
            plan = attrs.evolve(solve(wider, goal, clock_hz, only_auto, coster), pixels=pixels)
        except Infeasible as exc:
            if exc.layer is None and pixels != choices[-1]:
                continue  # the port is too slow: try a wider one
            if best is None:
                raise
            return best
        if best is not None and plan.ii >= best.ii:
            return best
        best = plan
        if plan.ii > input_cycles(wider.input):  # the port no longer bounds it
            return best
    return best


def explain(exc: Infeasible, goal: ir.FoldGoal, clock_hz: float) -> tuple[str, str]:
    """(message, hint) for a goal no folding meets: the best achievable figure and the
    layer that limits it."""
    what = describe(goal, clock_hz)
    if exc.resource == "support":
        return (f"no folding reaches {what}: {exc}",
                "'mbdsl gen --target rtl' names what the RTL backend refuses; a multiplier-style network's resource model "
                "takes its parameters (backends.rtl.cost.layer_cost(net, dsp, params))")
    if exc.resource != "cycles":
        return (f"no folding fits {what.removeprefix('the fastest II within ')}: {exc}",
                f"the least achievable is {exc.best:,.0f} {exc.resource} (at the slowest folding); layer {exc.layer.name} limits it most")
    limit = f"layer {exc.layer.name}" if exc.layer is not None else "the input port"
    return f"no folding reaches {what}: {exc}", f"the best achievable is {clock_hz / exc.best:,.1f} FPS at {clock_hz / 1e6:g} MHz, limited by {limit}"
