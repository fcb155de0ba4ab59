"""Speed of the numpy reference on the full MobileNet-v1 1.0/224 networks.

Builds the FINN w4a4 network (thresholds style, conv0 3x3 s2 pad 0, int8 weights) and the
GAP8 int8 one (conv0 pad 1, int8 weights, uint7 activations, multiplier style), then times
parameter creation (random weights + calibration) and ``reference.run`` per image.

    .venv/bin/python bench/reference_speed.py [--images N] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

import numpy as np

from mbdsl import frontend, ir, passes, params as P, reference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPECS = {
    "finn": "specs/mobilenet_v1_w4a4_u250.mbn",  # thresholds, conv0 pad 0, int8 conv0 weights, w4a4
    "gap8": "specs/mobilenet_v1_int8_gap8.mbn",  # multiplier, conv0 pad 1, int8 weights, uint7 acts
}


def load(which: str) -> ir.Network:
    return passes.check(frontend.load(os.path.join(ROOT, SPECS[which])))


def bench(net: ir.Network, n_images: int, profile: bool) -> dict:
    t0 = time.perf_counter()
    prm = P.make_params(net)
    t_params = time.perf_counter() - t0
    images = P.sample_images(net, n_images, seed=99)
    reference.run(net, prm, images[0])  # warm-up (BLAS threads, allocations)
    prof = cProfile.Profile() if profile else None
    times, cpu, first = [], [], None
    for im in images:
        if prof:
            prof.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        out = reference.run(net, prm, im)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        first = out[-1] if first is None else first
        if prof:
            prof.disable()
    t0 = time.perf_counter()
    reference.run_batch(net, prm, images)
    t_batch = (time.perf_counter() - t0) / n_images
    hists = P.activation_histograms(net, prm, images[:2])
    worst = max((h.max() / h.sum(), name) for name, h in hists.items())
    print(f"{net.name} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores): {len(net.layers)} layers, params+calibration {t_params:.2f} s, "
          f"run {np.median(times):.3f} s/image (median of {n_images}; min {min(times):.3f}; "
          f"cpu {np.median(cpu):.3f} s, all threads), "
          f"run_batch {t_batch:.3f} s/image; top-k of image 0: {first.tolist()}; "
          f"most concentrated layer {worst[1]} ({100 * worst[0]:.1f}% on one code)")
    if prof:
        pstats.Stats(prof).sort_stats("cumulative").print_stats(18)
    return {"params_s": t_params, "run_s": float(np.median(times)), "cpu_s": float(np.median(cpu)),
            "batch_s": t_batch}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--net", choices=["finn", "gap8", "both"], default="both")
    args = ap.parse_args(argv)
    for which in ["finn", "gap8"] if args.net == "both" else [args.net]:
        bench(load(which), args.images, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
