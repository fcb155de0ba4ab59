"""FINN's U250 folding of MobileNet-v1 w4a4 against mbdsl's automatic folding, side by side.

    .venv/bin/python bench/fold_vs_finn.py [--markdown FILE] [--dsp auto|lut|yosys]

Both foldings are estimated with the same resource model (``mbdsl.backends.rtl.resources``, yosys
``synth_xilinx -family xcup`` of our RTL; multipliers of 8-bit operands in DSP slices,
4-bit ones in LUTs, as FINN does). The automatic folding is the fastest II within FINN's
5,764 MAC lanes, equal-lane ties broken by LUTs; if that lane-minimal folding costs more
LUTs than FINN's, the folding with the fewest LUTs among those reaching the same II is used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "mobilenet_v1_w4a4_u250.mbn"
FINN_LANES = 5_764
FINN_OWN_ESTIMATE = "≈364k LUT, 1,148 BRAM18, 100 DSP (FINN's estimate of its own HLS/RTL build, REFERENCE.md)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", metavar="FILE", help="also write the comparison as Markdown")
    ap.add_argument("--dsp", default="auto", choices=("auto", "lut", "yosys"))
    args = ap.parse_args(argv)

    from mbdsl import autofold as af
    from mbdsl.commands.common import load_checked
    from mbdsl.dataflow import layer_cycles
    from mbdsl.backends.rtl.cost import layer_cost, network_resources
    from mbdsl.backends.rtl.resources import Resources

    net = load_checked(str(SPEC))
    coster = layer_cost(net, args.dsp)
    clock = net.fpga.clock_hz
    finn = attrs.evolve(net, layers=tuple(net.layers))
    lanes_plan = af.fold_for_lanes(net, FINN_LANES, coster=coster)

    def total(layers):
        per = network_resources(attrs.evolve(net, layers=tuple(layers)), args.dsp)
        return sum(per.values(), Resources()), per

    finn_total, finn_per = total(finn.layers)
    lanes_total, _ = total(lanes_plan.layers)
    chosen, why = lanes_plan, "the lane-minimal folding (equal-lane ties broken by LUTs) already uses fewer LUTs than FINN's"
    if lanes_total.lut > finn_total.lut:
        chosen = af.fold_for_ii(net, lanes_plan.ii, cost="lut", coster=coster)
        why = ("the lane-minimal folding would use more LUTs than FINN's, so among the foldings that reach the same II "
               "the one with the fewest LUTs is taken")
    auto_total, auto_per = total(chosen.layers)
    lut_plan = af.fold_for_ii(net, lanes_plan.ii, cost="lut", coster=coster)
    lut_total, _ = total(lut_plan.layers)
    # the fastest II within FINN's folding's resources, both budgets at once, counted as
    # `mbdsl fold` counts them: the units of each layer, without the width converters
    finn_units = af.plan_of(list(net.layers), coster)
    within = af.fold_for_budget(net, finn_units.lut, finn_units.bram18, coster=coster)
    within_total, _ = total(within.layers)

    lines = [
        f"FINN's U250 folding and mbdsl's automatic folding ({SPEC.name}, {clock / 1e6:g} MHz, multipliers: {args.dsp}).",
        f"Automatic: the fastest II within FINN's {FINN_LANES:,} MAC lanes; {why}.",
        "",
        "| layer | FINN PE x SIMD | cycles | lanes | LUT | BRAM18 | DSP | auto PE x SIMD | cycles | lanes | LUT | BRAM18 | DSP |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for a, b in zip(finn.layers, chosen.layers):
        ra, rb = finn_per[a.name], auto_per[b.name]

        def cells(l, r):
            lanes = l.fold.lanes() if isinstance(l, af.MAC_KINDS) else ""
            fold = f"{l.fold.pe} x {l.fold.simd}" if hasattr(l, "fold") else "–"
            return f"{fold} | {layer_cycles(l):,} | {lanes if lanes == '' else f'{lanes:,}'} | {r.lut:,.0f} | {r.bram18:,} | {r.dsp:,}"

        lines.append(f"| {a.name} | {cells(a, ra)} | {cells(b, rb)} |")
    for extra in ("input", "output"):
        if extra in finn_per or extra in auto_per:
            ra, rb = finn_per.get(extra, Resources()), auto_per.get(extra, Resources())
            lines.append(f"| {extra} | | | | {ra.lut:,.0f} | {ra.bram18} | {ra.dsp} | | | | {rb.lut:,.0f} | {rb.bram18} | {rb.dsp} |")
    finn_ii = max(layer_cycles(l) for l in finn.layers)
    finn_lanes = sum(l.fold.lanes() for l in finn.layers if isinstance(l, af.MAC_KINDS))
    lines += [
        f"| **total** | | **{finn_ii:,}** | **{finn_lanes:,}** | **{finn_total.lut:,.0f}** | **{finn_total.bram18:,}** | **{finn_total.dsp:,}** "
        f"| | **{chosen.ii:,}** | **{chosen.lanes:,}** | **{auto_total.lut:,.0f}** | **{auto_total.bram18:,}** | **{auto_total.dsp:,}** |",
        "",
        "| | II (cycles) | FPS | MAC lanes | LUT | FF | BRAM18 | DSP |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| FINN's folding | {finn_ii:,} | {clock / finn_ii:,.0f} | {finn_lanes:,} | {finn_total.lut:,.0f} | {finn_total.ff:,.0f} | {finn_total.bram18:,} | {finn_total.dsp:,} |",
        f"| lane-minimal (LUT tie-break) | {lanes_plan.ii:,} | {clock / lanes_plan.ii:,.0f} | {lanes_plan.lanes:,} | {lanes_total.lut:,.0f} | {lanes_total.ff:,.0f} | {lanes_total.bram18:,} | {lanes_total.dsp:,} |",
        f"| fewest LUTs at the same II | {lut_plan.ii:,} | {clock / lut_plan.ii:,.0f} | {lut_plan.lanes:,} | {lut_total.lut:,.0f} | {lut_total.ff:,.0f} | {lut_total.bram18:,} | {lut_total.dsp:,} |",
        f"| fastest II within FINN's LUTs and BRAM18s (`--lut {finn_units.lut:.0f} --bram {finn_units.bram18}`) | {within.ii:,} | {clock / within.ii:,.0f} | {within.lanes:,} | {within_total.lut:,.0f} | {within_total.ff:,.0f} | {within_total.bram18:,} | {within_total.dsp:,} |",
        f"| **automatic (chosen)** | **{chosen.ii:,}** | **{clock / chosen.ii:,.0f}** | **{chosen.lanes:,}** | **{auto_total.lut:,.0f}** | **{auto_total.ff:,.0f}** | **{auto_total.bram18:,}** | **{auto_total.dsp:,}** |",
        "",
        f"Optimality: the next faster II, {lanes_plan.bound[0]:,} cycles, needs at least {lanes_plan.bound[1]:,} MAC lanes." if lanes_plan.bound else "",
        f"For reference, FINN's published figures for its own build: {FINN_OWN_ESTIMATE}.",
        "",
        "Totals include the width converters between layers; `mbdsl fold` budgets count the units of each layer",
        f"(FIFO, window generator, compute unit), {finn_units.lut:,.0f} LUT and {finn_units.bram18:,} BRAM18 for FINN's folding, "
        "since a converter depends on two neighbouring foldings.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
