"""The fastest folding of a network that fits each device's budgets (mbdsl.devices).

    .venv/bin/python bench/fold_devices.py [--spec SPEC ...] [--utilisation 80] [--dsp auto] [--markdown FILE]

Every layer of the spec is folded automatically for the device's LUT, FF, BRAM18 and DSP
budgets at the utilisation ceiling (``mbdsl fold --device D``); figures are the resource
model's (yosys ``synth_xilinx -family xcup`` units; ECP5 budgets converted by the measured
factors of ``mbdsl.devices``). FPS is at the spec's clock, assumed for Xilinx parts (no
implementation was run); for ECP5 at the lower of the spec's clock and the measured unit
Fmax. A multiplier-style (int8) spec's resource model takes the spec's own parameters, as
``mbdsl fold`` does; a spec the RTL backend does not build is reported as skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
SPECS = [ROOT / "specs" / "mobilenet_v1_w4a4_u250.mbn", ROOT / "specs" / "mobilenet_v1_int8_gap8.mbn"]
DEVICE_NAMES = ["xcu250-figd2104-2L-e", "xcu280-fsvh2892-2L-e", "xczu7ev-ffvc1156-2-e", "xc7a100t-csg324-1", "LFE5U-85F"]


def fold_all(spec: Path, names: list[str], share: float, dsp: str) -> list[dict]:
    from mbdsl import autofold as af
    from mbdsl import devices, ir
    from mbdsl.backends.rtl.cost import layer_cost, network_resources
    from mbdsl.backends.rtl.resources import Resources
    from mbdsl.commands.common import load_checked, rtl_params
    from mbdsl.dataflow import input_cycles
    from mbdsl.estimates import DEFAULT_CLOCK_HZ

    net = load_checked(str(spec))
    free = net.replace_layers(l if isinstance(l, ir.TopK) else attrs.evolve(l, fold=attrs.evolve(l.fold, auto=True)) for l in net.layers)
    params = rtl_params(net)
    coster = layer_cost(free, dsp, params)
    rows = []
    for name in names:
        dev = devices.device(name)
        b = devices.budget(dev, share)
        limit = devices.max_clock_mhz(dev)
        spec_clock = net.fpga.clock_hz if net.fpga is not None else DEFAULT_CLOCK_HZ
        clock = min(spec_clock, limit * 1e6) if limit is not None else spec_clock
        row = {"spec": spec.name, "device": dev.name, "family": dev.family.name, "budget": b, "clock_mhz": clock / 1e6,
               "clock_note": "measured unit limit" if clock < spec_clock else "assumed"}
        if coster is None:
            rows.append(row | {"skipped": "the RTL backend does not build this spec ('mbdsl gen --target rtl' says why)"})
            continue
        goal = devices.fold_goal(dev, share)
        try:
            plan = af.solve(free, goal, clock, only_auto=True, coster=coster)
        except af.Infeasible as exc:
            message, hint = af.explain(exc, goal, clock)
            rows.append(row | {"infeasible": f"{message} ({hint})"})
            continue
        everything = sum(network_resources(attrs.evolve(free, layers=plan.layers), dsp, params).values(), Resources())
        port = plan.ii == input_cycles(free.input)
        rows.append(row | {
            "ii": plan.ii, "fps": clock / plan.ii, "lanes": plan.lanes, "limit": "input port" if port else "budget",
            "used": plan, "with_dwc_lut": everything.lut,
            "folding": " ".join(f"{l.name}:{l.fold.pe}x{l.fold.simd}" for l in plan.layers if not isinstance(l, ir.TopK)),
            "bound": plan.bound, "bound_resource": plan.bound_resource, "bound_proven": plan.bound_proven,
        })
    return rows


def markdown(rows: list[dict], share: float) -> str:
    from mbdsl import autofold as af

    out = ["| spec | device | II (cycles) | FPS | clock | MAC lanes | LUT | FF | BRAM18 | URAM | DSP | limited by |",
           "|---|---|---:|---:|---|---:|---|---|---|---|---|---|"]
    notes = []
    for r in rows:
        b = r["budget"]
        if "skipped" in r:
            out.append(f"| {r['spec']} | {r['device']} | skipped | | | | | | | | | {r['skipped']} |")
            continue
        if "infeasible" in r:
            out.append(f"| {r['spec']} | {r['device']} | does not fit | | | | / {b.lut:,} | / {b.ff:,} | / {b.bram18:,} | 0 / {b.uram:,} | / {b.dsp:,} | see below |")
            notes.append(f"- {r['device']}: {r['infeasible']}")
            continue
        p = r["used"]
        limit = r["limit"]
        if r["bound"]:
            ii, need = r["bound"]
            proof = "" if r["bound_proven"] else ", not proven"
            limit += f" (II {ii:,} needs {need:,.0f} {af.NAMES[r['bound_resource']]}{proof})"
        out.append(
            f"| {r['spec']} | {r['device']} | {r['ii']:,} | {r['fps']:,.1f} | {r['clock_mhz']:g} MHz ({r['clock_note']}) | {r['lanes']:,} "
            f"| {p.lut:,.0f} / {b.lut:,} | {p.ff:,.0f} / {b.ff:,} | {p.bram18:,} / {b.bram18:,} | 0 / {b.uram:,} | {p.dsp:,} / {b.dsp:,} | {limit} |")
        notes.append(f"- {r['device']} folding (PE x SIMD): {r['folding']}; with the width converters {r['with_dwc_lut']:,.0f} LUT")
    head = f"Budgets at {share:.0%} of each resource, in the resource model's units (used / budget).\n\n"
    return head + "\n".join(out) + "\n\n" + "\n".join(notes) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", action="append", type=Path, help="spec(s) to fold (default: FINN's U250 network and the int8 GAP8 network)")
    ap.add_argument("--device", action="append", help=f"device(s) (default: {', '.join(DEVICE_NAMES)})")
    ap.add_argument("--utilisation", type=float, default=80.0, help="percent of every resource (default 80)")
    ap.add_argument("--dsp", default="auto", choices=("auto", "lut", "yosys"))
    ap.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    rows = []
    for spec in args.spec or SPECS:
        rows += fold_all(spec, args.device or DEVICE_NAMES, args.utilisation / 100, args.dsp)
    text = markdown(rows, args.utilisation / 100)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
