"""Build and simulate the full FINN U250 MobileNet-v1 w4a4 (224x224) in Verilator.

Prints build and simulation wall times, bit-exactness on the images, measured latency and
initiation interval against the analytic model, and FPS at the spec's clock.

    .venv/bin/python bench/rtl_full.py [--spec specs/mobilenet_v1_w4a4_u250.mbn] [--images 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mbdsl import backends
from mbdsl.backends.rtl import netsim
from mbdsl.estimates import estimate
from mbdsl.frontend import load
from mbdsl.images import random_images
from mbdsl.output import write_tree
from mbdsl.params import make_params
from mbdsl.passes import check

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default=str(ROOT / "specs" / "mobilenet_v1_w4a4_u250.mbn"))
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--no-trace", action="store_true")
    args = ap.parse_args()

    t0 = time.perf_counter()
    net = check(load(args.spec))
    params = make_params(net)
    home = ROOT / "build" / "bench_rtl" / Path(args.spec).stem  # per spec: runs of two foldings of a network may overlap
    rtl = home / "rtl"
    write_tree(str(rtl), backends.generate("rtl", net, params))
    t1 = time.perf_counter()
    print(f"generate: {t1 - t0:.1f} s (params, calibration and {len(list(rtl.rglob('*')))} files)")
    build = home / "build"
    netsim.build(rtl, build, log=print)
    t2 = time.perf_counter()
    print(f"verilator build: {t2 - t1:.1f} s")
    images = random_images(net.input, args.images, seed=2024)
    result = netsim.simulate(net, params, images, rtl, build, trace=not args.no_trace)
    t3 = time.perf_counter()
    fig = estimate(net)
    print(f"simulation: {result.cycles:,} cycles in {result.seconds:.1f} s ({result.cycles / result.seconds:,.0f} cycles/s)")
    for i, (got, want) in enumerate(zip(result.outputs, result.expected)):
        print(f"image {i}: RTL top-k {list(map(int, got))} reference {list(map(int, want))}")
    print(f"bit-exact: {result.exact}" + ("" if result.exact else f" ({result.mismatch})"))
    if result.load_cycles is not None:
        print(f"weight load: {result.load_cycles:,} cycles once after reset (UltraRAM units; not in the latency or the II)")
    print(f"latency: {result.latency:,} cycles")
    if result.ii is not None:
        print(f"II measured: {result.ii:,.0f} cycles; analytic {fig.ii:,} ({(result.ii - fig.ii) / fig.ii * 100:+.2f}%), bottleneck {fig.bottleneck_name}")
        print(f"FPS at {fig.clock_hz / 1e6:g} MHz: {fig.clock_hz / result.ii:,.1f} measured, {fig.fps:,.1f} analytic")
    print(f"total wall time: {t3 - t0:.1f} s")


if __name__ == "__main__":
    main()
