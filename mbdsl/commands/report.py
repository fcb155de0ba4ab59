"""``mbdsl report``: an HTML report of a spec (cycles, resources, memory, GAP8 tiling)."""

from __future__ import annotations

import os

from ..output import check_destination, write_files
from ..backends.rtl.resources import DSP_POLICIES
from .common import console, load_checked, rtl_params


def register(sub) -> None:
    p = sub.add_parser("report", help="write an HTML report: cycles per layer, estimated resources, memory, GAP8 tiling")
    p.add_argument("spec")
    p.add_argument("-o", "--output", metavar="REPORT.html", default="report.html", help="the HTML file (default: report.html)")
    p.add_argument("--png", action="store_true", help="also write the plots as PNG files beside the report")
    p.add_argument("--dsp", choices=DSP_POLICIES, default="auto", help="multipliers in the resource estimate (see mbdsl fold --help)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..report import build_report

    check_destination(args.output)  # before the report's work, not after it
    net = load_checked(args.spec)
    report = build_report(net, args.spec, args.dsp, rtl_params(net))
    out = os.path.abspath(args.output)
    files = {out: report.html}
    if args.png:
        stem = os.path.splitext(out)[0]
        files |= {f"{stem}_{name}": data for name, data in report.images.items()}
    write_files(files, make_folders=True)
    console.print(f"wrote {args.output}" + (f" and {len(report.images)} PNGs beside it" if args.png else ""))
    return 0
