"""``mbdsl fold``: choose PE/SIMD for every layer, print the balance, write the spec back."""

from __future__ import annotations

import math
import re

import attrs
from rich.table import Table

from ..autofold import MAC_KINDS, Infeasible, fold_for_ii, fold_for_lanes
from ..dataflow import layer_cycles
from ..errors import MbdslError
from ..estimates import DEFAULT_CLOCK_HZ
from ..output import write_file
from ..spec_writer import write_spec
from .common import console, load_checked

_CLOCK = re.compile(r"^\s*([0-9.]+(?:e[0-9]+)?)\s*(hz|khz|mhz|ghz)?\s*$", re.IGNORECASE)
_UNITS = {"hz": 1, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}


def _clock(text: str) -> float:
    m = _CLOCK.match(text)
    if not m:
        raise MbdslError(f"cannot read the clock {text!r}", hint="write e.g. 200MHz or '250 MHz'")
    return float(m.group(1)) * _UNITS[(m.group(2) or "mhz").lower()]


def register(sub) -> None:
    p = sub.add_parser("fold", help="choose PE/SIMD per layer for an FPS goal or a MAC-lane budget")
    p.add_argument("spec")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument("--fps", type=float, help="frames per second to reach with the fewest MAC lanes")
    goal.add_argument("--mac-lanes", type=int, metavar="N", help="the fastest II with at most N MAC lanes (default: the spec's own lane count)")
    p.add_argument("--clock", help="clock for --fps and the FPS figures (default: the spec's fpga target, else 200 MHz)")
    p.add_argument("-o", "--output", metavar="OUT.mbn", help="write the spec with the chosen folding")
    p.set_defaults(func=run)


def run(args) -> int:
    net = load_checked(args.spec)
    clock = _clock(args.clock) if args.clock else (net.fpga.clock_hz if net.fpga else DEFAULT_CLOCK_HZ)
    before_lanes = sum(l.fold.lanes() for l in net.layers if isinstance(l, MAC_KINDS))
    before_ii = max(layer_cycles(l) for l in net.layers)
    try:
        if args.fps:
            goal = f"{args.fps:g} FPS at {clock / 1e6:g} MHz"
            plan = fold_for_ii(net, math.floor(clock / args.fps))
        else:
            lanes = args.mac_lanes or before_lanes
            goal = f"the fastest II within {lanes:,} MAC lanes"
            plan = fold_for_lanes(net, lanes)
    except Infeasible as exc:
        raise MbdslError(
            f"no folding reaches {goal}: {exc}",
            exc.layer.span,
            f"the best achievable is {clock / exc.best:,.1f} FPS at {clock / 1e6:g} MHz, limited by layer {exc.layer.name}",
        ) from None
    table = Table(title=f"{net.name}: folding for {goal}")
    for col in ("layer", "kind", "PE x SIMD (spec)", "PE x SIMD (chosen)", "lanes", "cycles/frame", "balance"):
        table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for old, new in zip(net.layers, plan.layers):
        if not hasattr(new, "fold"):
            continue
        cycles = layer_cycles(new)
        table.add_row(
            new.name, new.kind, f"{old.fold.pe} x {old.fold.simd}", f"{new.fold.pe} x {new.fold.simd}",
            f"{new.fold.lanes():,}" if isinstance(new, MAC_KINDS) else "", f"{cycles:,}", f"{cycles / plan.ii:.2f}",
        )
    console.print(table)
    console.print(f"spec     II {before_ii:,} cycles, {before_lanes:,} MAC lanes, {clock / before_ii:,.1f} FPS")
    console.print(f"chosen   II {plan.ii:,} cycles, {plan.lanes:,} MAC lanes, {clock / plan.ii:,.1f} FPS at {clock / 1e6:g} MHz")
    if plan.bound:
        ii, lanes = plan.bound
        console.print(f"optimal  the next faster II, {ii:,} cycles, needs at least {lanes:,} MAC lanes")
    if args.output:
        folded = attrs.evolve(net, layers=plan.layers)
        text = write_spec(folded, args.output, header=f"Folded by 'mbdsl fold' from {args.spec} for {goal}.")
        write_file(args.output, text)
        console.print(f"wrote {args.output}")
    return 0

