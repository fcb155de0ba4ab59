"""``mbdsl gap8-plan``: the GAP8 tiling and memory plan of a spec, and its modeled cycles."""

from __future__ import annotations

from rich.table import Table

from ..backends.gap8 import plan_network, plan_table
from .common import console, load_checked

_COLUMNS = (
    ("layer", "layer", False),
    ("kind", "kind", False),
    ("tile", "tile HxWxC", False),
    ("order", "loop", False),
    ("tiles", "tiles", True),
    ("l1_bytes", "L1 B", True),
    ("in", "in", False),
    ("weights", "weights", False),
    ("out", "out", False),
    ("dma_bytes", "DMA L2<->L1 B", True),
    ("l3_bytes", "L3 B", True),
    ("stage_bytes", "L2 staging B", True),
    ("cycles", "cycles", True),
    ("bound", "bound", False),
)


def register(sub) -> None:
    p = sub.add_parser("gap8-plan", help="print the GAP8 tiling, memory placement and modeled cycles per layer")
    p.add_argument("spec")
    p.set_defaults(func=run)


def render(plan) -> Table:
    """The plan as a rich table (also used by ``mbdsl check`` for GAP8 specs)."""
    t = plan.target
    table = Table(
        title=f"{plan.net.name} on GAP8: L1 {plan.l1_budget:,} B for tiles, L2 {plan.l2_bytes:,} of {plan.l2_budget:,} B, "
        f"L3 {plan.l3_bytes:,} B, {t.cores} cores"
    )
    for _, title, right in _COLUMNS:
        table.add_column(title, justify="right" if right else "left")
    for row in plan_table(plan):
        table.add_row(*(f"{row[k]:,}" if isinstance(row[k], int) else str(row[k]) for k, _, _ in _COLUMNS))
    return table


def run(args) -> int:
    plan = plan_network(load_checked(args.spec))
    console.print(render(plan))
    total = plan.total_cycles
    console.print(f"modeled total {total:,.0f} cycles = {total / plan.target.clock_hz * 1e3:.2f} ms at "
                  f"{plan.target.clock_hz / 1e6:g} MHz")
    return 0
