"""``mbdsl fold``: choose PE/SIMD for every layer, print the balance, write the spec back.

Goals: ``--fps`` (fewest MAC lanes for a frame rate), ``--mac-lanes`` (fastest II within a
lane budget; ties between equal-lane foldings go to the fewest estimated LUTs), resource
budgets ``--lut`` and/or ``--bram`` (fastest II whose estimated LUTs / BRAM18s fit), or a
device's budgets ``--device D [--utilisation P]`` (LUT, FF, BRAM18, DSP; ``mbdsl.devices``),
``--lut``/``--bram`` replacing the device's own; with a device whose family offers them the
multiplier mapping (``lut | dsp | packed``) is chosen per layer with the folding, and with one
that has UltraRAM where each layer's weights live (``rom | uram``).
Without one, the goal of the spec's ``target fpga`` block, else its own MAC-lane count.
"""

from __future__ import annotations

import argparse
from collections import Counter

import attrs
from rich.table import Table

from .. import devices, ir
from ..autofold import MAC_KINDS, NAMES, Infeasible, describe, explain, plan_of, solve_pixels, wider_ports
from ..dataflow import input_cycles, layer_cycles, with_pixels
from ..errors import MbdslError
from ..estimates import DEFAULT_CLOCK_HZ, offchip_note
from ..output import check_writable, write_file
from ..backends.rtl.cost import layer_cost, network_resources
from ..backends.rtl.resources import DSP_POLICIES
from ..spec_writer import write_spec
from .common import clock, console, count, load_checked, positive, rtl_params

def register(sub) -> None:
    p = sub.add_parser("fold", help="choose PE/SIMD per layer for an FPS goal or a MAC-lane budget")
    p.add_argument("spec")
    goal = p.add_mutually_exclusive_group()
    goal.add_argument("--fps", type=positive(*ir.FPS_RANGE), help="frames per second to reach with the fewest MAC lanes")
    goal.add_argument("--mac-lanes", type=count(1, ir.MAX_BUDGET), metavar="N", help="the fastest II with at most N MAC lanes (default: the goal in the spec's target fpga, else its own lane count)")
    p.add_argument("--lut", type=_count, metavar="L", help="the fastest II whose estimated LUTs fit L (e.g. 364000 or 364k; "
                                                           "with --device: instead of the device's LUT budget)")
    p.add_argument("--bram", type=_count, metavar="B", help="the fastest II whose estimated BRAM18s fit B (with --device: instead of its own)")
    p.add_argument("--device", metavar="D", help=f"the fastest II that fits the device's LUT, FF, BRAM18 and DSP budgets, each layer's "
                                                 f"multiplier mapping (lut, dsp, packed) and the place of its weights (rom, uram) chosen with its folding on UltraScale+ parts "
                                                 f"({', '.join(devices.DEVICES)})")
    p.add_argument("--utilisation", type=_share, metavar="P",
                   help=f"with --device: the share of every resource to plan for, e.g. 70%% (default: the spec's, else "
                        f"{devices.DEFAULT_UTILISATION * 100:g}%%)")
    p.add_argument("--dsp", choices=DSP_POLICIES, default="auto",
                   help="multipliers in the estimates: lut (all LUTs, as synth -nodsp), auto (DSPs for operands over 4 bits, "
                        "FINN's convention; default), yosys (DSPs wherever yosys maps them)")
    p.add_argument("--clock", type=clock, help="clock for --fps and the FPS figures (default: the spec's fpga target, else 200 MHz)")
    p.add_argument("-o", "--output", metavar="OUT.mbn", help="write the spec with the chosen folding")
    p.set_defaults(func=run)


def _count(text: str) -> int:
    t = text.strip().lower().replace(",", "").replace("_", "")
    scale = 1
    if t.endswith("k"):
        t, scale = t[:-1], 1000
    elif t.endswith("m"):
        t, scale = t[:-1], 1000_000
    try:
        value = float(t) * scale
    except ValueError:
        raise ValueError(text) from None
    if not 1 <= value <= ir.MAX_BUDGET:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{text} is outside 1..{ir.MAX_BUDGET:,}")
    return int(value)


_count.__name__ = "count"  # argparse names the type in its error: "invalid count value"


def _share(text: str) -> float:
    """A utilisation ceiling: a percentage, with or without '%'."""
    try:
        value = float(text.strip().removesuffix("%")) / 100
    except ValueError:
        raise ValueError(text) from None
    low, high = devices.UTILISATION_RANGE
    if not low <= value <= high:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} is outside {low:.0%}..{high:.0%}")
    return value


_share.__name__ = "percentage"


def _layers(n: int) -> str:
    return f"{n} layer" if n == 1 else f"{n} layers"


def _replaced(args) -> str:
    """The budgets given beside a device, in words: '576,000 LUTs', '576,000 LUTs and 1,054 BRAM18s'."""
    return " and ".join(f"{v:,} {name}" for v, name in ((args.lut, "LUTs"), (args.bram, "BRAM18s")) if v is not None)


def run(args) -> int:
    if args.output:
        check_writable([args.output])  # before the search, not after it
    net = load_checked(args.spec)
    clock = args.clock if args.clock else (net.fpga.clock_hz if net.fpga else DEFAULT_CLOCK_HZ)
    before_lanes = sum(l.fold.lanes() for l in net.layers if isinstance(l, MAC_KINDS))
    before_ii = max(input_cycles(net.input), max(layer_cycles(l) for l in net.layers))
    budgets = args.lut is not None or args.bram is not None
    if budgets and (args.fps is not None or args.mac_lanes is not None):
        raise MbdslError("--lut/--bram budgets choose the fastest II themselves; they do not combine with --fps or --mac-lanes",
                         hint="give either a goal (--fps, --mac-lanes) or resource budgets (--lut, --bram)")
    if (args.device is not None or args.utilisation is not None) and (args.fps is not None or args.mac_lanes is not None):
        raise MbdslError("--device and --utilisation set budgets; they do not combine with --fps or --mac-lanes",
                         hint="give either a device (with --utilisation, and --lut/--bram to replace its LUT/BRAM18 budget) or a goal")
    spec_device, spec_share = (net.fpga.device, net.fpga.utilisation) if net.fpga else (None, None)
    dev = share = None
    if args.device is not None or args.utilisation is not None:
        if args.device is None and spec_device is None:
            raise MbdslError("--utilisation is a share of a device's resources, and no device is given",
                             hint='add --device D (or device "D" in the spec\'s target fpga)')
        dev = devices.device(args.device or spec_device)
        devices.check_weight_places(net.layers, dev)
        share = args.utilisation if args.utilisation is not None else spec_share
        target = devices.fold_goal(dev, share)
        if budgets:  # the device's budgets with the LUT and/or BRAM18 budget given instead
            target = attrs.evolve(target, lut=args.lut if args.lut is not None else target.lut,
                                  bram=args.bram if args.bram is not None else target.bram,
                                  device=f"{target.device} with {_replaced(args)}")
    elif args.fps is not None or args.mac_lanes is not None or budgets:
        target = ir.FoldGoal(fps=args.fps, mac_lanes=args.mac_lanes, lut=args.lut, bram=args.bram)
    elif net.fpga is not None and net.fpga.goal is not None:
        target = net.fpga.goal
        if target.device is not None:
            dev, share = devices.device(spec_device), spec_share
    else:
        target = ir.FoldGoal(mac_lanes=before_lanes)
    params = rtl_params(net)
    coster = layer_cost(net, args.dsp, params)
    before = plan_of(list(net.layers), coster) if coster is not None else None
    goal = describe(target, clock)
    try:
        plan = solve_pixels(net, target, clock, coster=coster)
    except Infeasible as exc:
        message, hint = explain(exc, target, clock)
        raise MbdslError(message, exc.layer.span if exc.layer is not None and exc.resource != "support" else net.span, hint) from None
    folded = with_pixels(net.replace_layers(plan.layers), plan.pixels)
    table = Table(title=f"{net.name}: folding for {goal}")
    cols = ["layer", "kind", "PE x SIMD (spec)", "PE x SIMD (chosen)", "lanes", "cycles/frame", "balance"]
    mapped = any(getattr(l, "fold", None) is not None and l.fold.mult is not None for l in plan.layers)
    if mapped:
        cols.append("mult")
    in_uram = any(getattr(l, "fold", None) is not None and l.fold.weights == "uram" for l in plan.layers)
    if in_uram:
        cols.append("weights")
    if coster is not None:
        cols += ["LUT", "BRAM18", "DSP"] + (["URAM"] if in_uram else [])
    for col in cols:
        table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for old, new in zip(net.layers, plan.layers):
        if not hasattr(new, "fold"):
            continue
        cycles = layer_cycles(new)
        row = [
            new.name, new.kind, f"{old.fold.pe} x {old.fold.simd}", f"{new.fold.pe} x {new.fold.simd}",
            f"{new.fold.lanes():,}" if isinstance(new, MAC_KINDS) else "", f"{cycles:,}", f"{cycles / plan.ii:.2f}",
        ]
        if mapped:
            row.append(new.fold.mult or "")
        if in_uram:
            row.append(new.fold.weights)
        if coster is not None:
            r = coster(new)
            row += [f"{r.lut:,.0f}", f"{r.bram18:,}", f"{r.dsp:,}"] + ([f"{r.uram:,}"] if in_uram else [])
        table.add_row(*row)
    console.print(table)

    def res(p) -> str:
        uram = f", {p.uram:,} URAM" if p.uram else ""
        return f", {p.lut:,.0f} LUT, {p.bram18:,} BRAM18, {p.dsp:,} DSP{uram} (estimated, dsp={args.dsp})" if coster is not None else ""

    console.print(f"spec     II {before_ii:,} cycles, {before_lanes:,} MAC lanes, {clock / before_ii:,.1f} FPS{res(before) if before else ''}")
    console.print(f"chosen   II {plan.ii:,} cycles, {plan.lanes:,} MAC lanes, {clock / plan.ii:,.1f} FPS at {clock / 1e6:g} MHz{res(plan)}")
    if (offchip := offchip_note(folded, clock, dev.name if dev is not None else None)) is not None:
        console.print(f"         {offchip}")
    if folded.input.pixels != net.input.pixels:
        console.print(f"input    {folded.input.pixels} pixels per beat (fold(pixels = {folded.input.pixels})): one pixel per beat bounds the II "
                      f"at {input_cycles(net.input):,} cycles; {folded.input.pixels} per beat at {input_cycles(folded.input):,}")
    elif plan.ii == input_cycles(net.input) and (wider := wider_ports(net)):
        console.print(f"input    the input port bounds the II at one pixel per beat; {wider[0]} per beat reach no faster II "
                      f"within the goal")
    if coster is not None:
        everything = sum(network_resources(folded, args.dsp, params).values())
        console.print(f"         the width converters between layers add {everything.lut - plan.lut:,.0f} LUT, "
                      f"{everything.bram18 - plan.bram18:,} BRAM18 (not part of budgets: each depends on two layers' foldings)")
        if dev is not None:
            b = devices.budget(dev, share)
            console.print(f"budget   {target.device} in the model's units: {target.lut:,} LUT, {b.ff:,} FF, {target.bram:,} BRAM18, "
                          f"{b.dsp:,} DSP, {b.uram:,} URAM")
            console.print(f"used     {plan.lut:,.0f} LUT, {plan.ff:,.0f} FF, {plan.bram18:,} BRAM18, {plan.dsp:,} DSP, "
                          f"{plan.uram:,} URAM" + (" (weights written at run time: 'ROM and stream formats' in docs/rtl.md)" if plan.uram else ""))
    if mapped:
        per_mult = Counter(l.fold.mult for l in plan.layers if isinstance(l, MAC_KINDS))
        console.print("mapping  " + ", ".join(f"{_layers(per_mult[m])} {m}" for m in ir.MULTS if per_mult[m])
                      + (f", {_layers(per_mult[None])} as synthesis chooses" if per_mult[None] else ""))
    if plan.bound:
        ii, need = plan.bound
        if plan.bound_resource is not None:
            proof = "" if plan.bound_proven else " (the search found no folding that fits; not proven that none exists)"
            console.print(f"optimal  the next faster II, {ii:,} cycles, needs at least {need:,.0f} "
                          f"{NAMES[plan.bound_resource]}, more than the budget{proof}")
        else:
            console.print(f"optimal  the next faster II, {ii:,} cycles, needs at least {need:,} MAC lanes")
    if args.output:
        text = write_spec(folded, args.output, header=f"Folded by 'mbdsl fold' from {args.spec} for {goal}.")
        write_file(args.output, text)
        console.print(f"wrote {args.output}")
    return 0

