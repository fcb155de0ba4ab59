"""Full 224x224 MobileNet-v1 networks through the HLS C++ backend on the host.

For each spec: generate the C++, compile it with g++ (-O2) against the Vitis HLS type
headers (hls4ml's copy, or --ap-types DIR), run it on random images and
compare with the reference: every image's output, and every layer's output on the first
image. Prints compile time and run time per image, and a markdown table for
docs/results.md.

    .venv/bin/python bench/hls_full.py [--images N] [--jobs J] [--ap-types DIR] [spec ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time

from mbdsl.backends.hls import csim, generate
from mbdsl.frontend import load
from mbdsl.images import random_images
from mbdsl.params import make_params
from mbdsl.passes import check

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = ["specs/mobilenet_v1_w4a4_u250.mbn", "specs/mobilenet_v1_int8_gap8.mbn"]


def bench(spec: str, n: int, jobs: int | None, workdir: str, ap_types: str) -> dict:
    t = time.perf_counter()
    net = check(load(os.path.join(ROOT, spec)))
    params = make_params(net)
    t_params = time.perf_counter() - t
    t = time.perf_counter()
    files = generate(net, params)
    t_gen = time.perf_counter() - t
    size = sum(len(v) for v in files.values())
    print(f"{net.name}: parameters {t_params:.1f} s, generated {len(files)} files ({size / 1e6:.1f} MB) in {t_gen:.1f} s", flush=True)
    b = csim.build(files, os.path.join(workdir, net.name), jobs=jobs, ap_types=ap_types,
                   progress=lambda _w, d, tot: print(f"  compiling {d}/{tot}", flush=True))
    print(f"  compile time {b.seconds:.1f} s ({b.compiled} translation units, {b.cached} cached)", flush=True)
    images = random_images(net.input, n, seed=0)
    result = csim.run(b, net, images, on_frame=lambda i, ms: print(f"  image {i}: {ms:.0f} ms", flush=True))
    bad = csim.compare(net, params, images, result)
    traced = csim.run(b, net, images[:1], trace=True)
    bad_layers = csim.compare(net, params, images[:1], traced)
    for m in bad + bad_layers:
        print("  MISMATCH", m)
    exact = not bad and not bad_layers
    ms = result.frame_ms
    print(f"  {'bit-exact' if exact else 'NOT bit-exact'} on {n} images (every layer on image 0); "
          f"run time per image {sum(ms) / len(ms):.0f} ms mean, {min(ms):.0f}-{max(ms):.0f}", flush=True)
    return dict(name=net.name, spec=spec, n=n, exact=exact, compile=b.seconds, units=b.compiled,
                ms_mean=sum(ms) / len(ms), ms_min=min(ms), ms_max=max(ms), gen=t_gen, mb=size / 1e6,
                outputs=[" ".join(map(str, o)) for o in result.outputs.tolist()])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("specs", nargs="*", default=SPECS)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--workdir", default=None, help="build directory (default: a temporary one)")
    ap.add_argument("--ap-types", default=None, metavar="DIR", help="folder of ap_int.h and hls_stream.h (default: hls4ml's)")
    args = ap.parse_args()
    ap_types = csim.find_ap_types(args.ap_types)
    with tempfile.TemporaryDirectory(prefix="mbdsl-hls-bench-") as tmp:
        rows = [bench(s, args.images, args.jobs, args.workdir or tmp, ap_types) for s in args.specs]
    gxx = subprocess.run(["g++", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print()
    print(f"Host: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gxx}, g++ -O2, {args.jobs or os.cpu_count()} parallel g++, headers {ap_types}")
    print()
    print("| network | images | bit-exact | C++ generated | generation | compile | run time per image (mean, min-max) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| `{r['spec']}` | {r['n']} | {'yes' if r['exact'] else '**no**'} (all outputs; every layer of image 0) | "
              f"{r['mb']:.1f} MB | {r['gen']:.1f} s | {r['compile']:.1f} s | {r['ms_mean'] / 1000:.2f} s ({r['ms_min'] / 1000:.2f}-{r['ms_max'] / 1000:.2f}) |")
    return 0 if all(r["exact"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
