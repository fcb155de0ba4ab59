"""Calibrating the GAP8 cycle model against GreenWaves' per-layer table (the seed).

The seed (GAP8 MobileNet-v1 1.0/224 int8, AutoTiler, GAPUINO board) publishes cycles for
29 layers: conv0, 13 depthwise/pointwise pairs, the pool and the FC. :func:`seed_plan`
plans the same network with the AutoTiler's budgets (L1 50,000 B, L2 350,000 B for data)
and :data:`~._model.SEED_COSTS`; :func:`compare` lists model vs seed per row, and
:func:`fit` re-derives the constants (coordinate descent on the squared log error, the
plan's tiling and placement held fixed, the total weighted like 5 rows).
"""

from __future__ import annotations

import math

import attrs

from ... import ir
from ._model import SEED_COSTS, Costs, layer_cycles
from ._plan import NetworkPlan, plan_network

__all__ = ["SEED_CYCLES", "SEED_TOTAL", "seed_target", "seed_plan", "compare", "fit"]

SEED_CYCLES = (
    6087978, 4960060, 8925415, 4469552, 5960158, 4800098, 19110305, 2230192, 6694392, 1888219,
    9490620, 1676586, 4433797, 272611, 9557498, 296501, 9563842, 271815, 9540258, 275515,
    9566414, 288077, 9542325, 116249, 4871496, 188627, 14247062, 62292, 4660682,
)  # fmt: skip
"""Cycles of rows 0..28 of the seed's table (conv0, dw/pw x 13, pool, FC)."""
SEED_TOTAL = 154048636


def seed_target(net: ir.Network) -> ir.Gap8Target:
    """The AutoTiler's budgets in the seed's model: L1 50,000 B and L2 350,000 B for data."""
    t = net.gap8 or ir.Gap8Target()
    return attrs.evolve(t, l1=50_000, l1_reserve=0, l2=350_000, l2_reserve=0)


def seed_plan(net: ir.Network, costs: Costs = SEED_COSTS) -> NetworkPlan:
    return plan_network(net, costs=costs, target=seed_target(net), fuse=False)  # the AutoTiler does not fuse


def _rows(plan: NetworkPlan):
    """The plan's layers that the seed's table has (all but top-k)."""
    rows = [lp for lp in plan.layers if lp.geom.kind != "topk"]
    if len(rows) != len(SEED_CYCLES):
        raise ValueError(f"the seed's table has {len(SEED_CYCLES)} rows, the network {len(rows)} layers")
    return rows


def compare(plan: NetworkPlan, costs: Costs | None = None) -> list[dict]:
    """Per row: layer, modeled cycles (with ``costs``, default the plan's), seed cycles, error."""
    costs = costs or plan.costs
    out = []
    for row, (lp, seed) in enumerate(zip(_rows(plan), SEED_CYCLES)):
        c = layer_cycles(lp.geom, lp.stats, lp.locs, costs, plan.target.cores).total
        out.append({"row": row, "layer": lp.layer.name, "kind": lp.geom.kind, "model": round(c), "seed": seed,
                    "error": c / seed - 1})
    return out


def _loss(plan: NetworkPlan, costs: Costs) -> float:
    rows = compare(plan, costs)
    total = sum(r["model"] for r in rows)
    return sum(math.log(r["model"] / r["seed"]) ** 2 for r in rows) + 5 * math.log(total / SEED_TOTAL) ** 2


def fit(plan: NetworkPlan, start: Costs = SEED_COSTS, rounds: int = 6) -> Costs:
    """Constants that minimise the log error against the seed for this plan's tiling."""
    best = start
    loss = _loss(plan, best)
    # The linear layer runs the pointwise kernel: one rate for both.
    knobs = [("rates", k) for k in sorted(start.rates) if k != "fc"] + [("l3_bpc", None), ("overlap", None)]
    for _ in range(rounds):
        for field, key in knobs:
            for factor in (0.5, 0.7, 0.85, 0.93, 1.07, 1.15, 1.4, 2.0):
                if field == "rates":
                    rates = dict(best.rates)
                    rates[key] = round(rates[key] * factor, 3)
                    if key == "pw":
                        rates["fc"] = rates["pw"]
                    trial = attrs.evolve(best, rates=rates)
                elif field == "overlap":
                    trial = attrs.evolve(best, overlap=round(min(1.0, max(0.0, best.overlap * factor)), 3))
                else:
                    trial = attrs.evolve(best, l3_bpc=round(best.l3_bpc * factor, 4))
                tl = _loss(plan, trial)
                if tl < loss - 1e-9:
                    best, loss = trial, tl
    return best
