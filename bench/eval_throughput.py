"""``mbdsl eval`` throughput per backend at -j 1, -j 2 and on a Dask LocalCluster of 2 workers.

    python bench/eval_throughput.py [--backends reference,hls,rtl,gap8] [--limit N]

Uses the digits example (examples/digits: imported into build/bench_eval) for reference,
hls and rtl; gap8 needs a multiplier-style network, so it runs
specs/mobilenet_v1_int8_w0.25_32.mbn (random weights: its accuracy is meaningless, its
throughput is not) on the same images. Prints one row per backend and way of running,
from the JSON each run writes (images/s of the run after the build, build seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = os.path.join(ROOT, "examples", "digits")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backends", default="reference,hls,rtl,gap8")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--out", default=os.path.join(ROOT, "build", "bench_eval"))
    args = p.parse_args(argv)
    from distributed import LocalCluster

    from mbdsl.cli import main as mbdsl

    os.makedirs(args.out, exist_ok=True)
    digits = os.path.join(args.out, "digits.mbn")
    if mbdsl(["import", os.path.join(DIGITS, "digits.onnx"), "-o", digits, "--verify", "0"]) != 0:
        return 1
    data = os.path.join(DIGITS, "heldout.npz")
    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        for backend in args.backends.split(","):
            spec = os.path.join(ROOT, "specs", "mobilenet_v1_int8_w0.25_32.mbn") if backend == "gap8" else digits
            for how, extra in (("-j 1", ["-j", "1"]), ("-j 2", ["-j", "2"]), ("LocalCluster(2)", ["--scheduler", cluster.scheduler_address])):
                out = os.path.join(args.out, how.replace(" ", "").replace("(", "").replace(")", ""))
                cmd = ["eval", spec, data, "--backend", backend, "-o", out, "--build-dir", os.path.join(args.out, "build")]
                cmd += ["--limit", str(args.limit)] if args.limit else []
                if mbdsl(cmd + extra) != 0:
                    return 1
                name = "digits" if backend != "gap8" else "mobilenet_v1_int8_w025_32"
                r = json.load(open(os.path.join(out, f"{name}_{backend}.json")))
                t = r["throughput"]
                rows.append((backend, how, r["images"], t["images_per_s"], t["seconds"], t["build_seconds"], r["top1"]))
    print(f"{'backend':10s} {'run':16s} {'images':>6s} {'images/s':>9s} {'run s':>7s} {'build s':>8s} {'top-1':>7s}")
    for b, how, n, ips, s, bs, top1 in rows:
        print(f"{b:10s} {how:16s} {n:6d} {ips:9.1f} {s:7.2f} {bs:8.1f} {top1:7.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
