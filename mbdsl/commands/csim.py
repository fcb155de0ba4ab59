"""``mbdsl csim``: generate the HLS C++, compile it with g++ and run it on images, bit-exact
against the reference; on a mismatch, name the first layer that diverged."""

from __future__ import annotations

import os
import time

import attrs

from .. import backends
from ..backends.hls import csim
from ..divergence import Divergence
from ..images import random_images, read_image
from ..output import check_folder, write_tree
from ..params import make_params
from .common import MAX_IMAGES, check_image_batch, console, count, load_checked, seed


def register(sub) -> None:
    p = sub.add_parser("csim", help="compile the generated HLS C++ with g++ and run it, bit-exact against the reference")
    p.add_argument("spec")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--images", type=count(1, MAX_IMAGES), default=4, metavar="N", help="N seeded random images (default 4)")
    group.add_argument("--image", action="append", metavar="FILE", help="a photo (PNG, JPEG, BMP, PPM), a uint8 .npy (H, W, C), or a raw .nv12 frame (repeatable)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the random images")
    p.add_argument("--all-layers", action="store_true", help="compare every layer's output on every image (default: the final output, and the layers of a mismatching image)")
    p.add_argument("-j", "--jobs", type=count(1, 256), default=None, metavar="N", help="parallel g++ processes (default: one per core)")
    p.add_argument("-o", "--output", default="generated", metavar="DIR", help="output root of the sources (default: generated)")
    p.add_argument("--ap-types", default=None, metavar="DIR", help="folder of the Vitis HLS type headers ap_int.h, hls_stream.h (default: the copy in the installed hls4ml package, see mbdsl[hls])")
    p.add_argument("--build-dir", default=os.path.join("build", "hls"), metavar="DIR", help="objects and testbench (default: build/hls)")
    p.set_defaults(func=run)


def run(args) -> int:
    for folder in (args.output, args.build_dir):
        check_folder(folder)
    net = load_checked(args.spec)
    ap_types = csim.find_ap_types(args.ap_types)
    check_image_batch(net, len(args.image) if args.image else args.images)
    params = make_params(net)
    if args.image:
        images = [read_image(path, net.input) for path in args.image]
    else:
        images = random_images(net.input, args.images, seed=args.seed)
    t0 = time.perf_counter()
    files = backends.generate("hls", net, params)
    src_dir = os.path.join(args.output, net.name, "hls")
    write_tree(src_dir, files)
    console.print(f"generated {len(files)} files in {src_dir} ({time.perf_counter() - t0:.1f} s)")

    with console.status("compiling") as status:

        def compiled(_what, done, total):
            status.update(f"compiling with g++: {done}/{total} translation units")

        b = csim.build(files, os.path.join(args.build_dir, net.name), jobs=args.jobs, progress=compiled, ap_types=ap_types)
        cached = f", {b.cached} cached" if b.cached else ""
        console.print(f"compiled in {b.seconds:.1f} s ({b.compiled} translation unit(s){cached}; g++ {' '.join(b.manifest['cxxflags'])}; ap types from {ap_types})")

        def frame(i, ms):
            status.update(f"running: image {i + 1}/{len(images)} ({ms:.1f} ms)")

        t1 = time.perf_counter()
        result = csim.run(b, net, images, trace=args.all_layers, on_frame=frame)
        wall = time.perf_counter() - t1
        mismatches = csim.compare(net, params, images, result)
        if mismatches and not args.all_layers:
            # Rerun the images that differ with every layer traced, to name the first bad layer.
            status.update("tracing the mismatching images")
            bad = [images[m.image] for m in mismatches]
            traced = csim.run(b, net, bad, trace=True)
            located = csim.compare(net, params, bad, traced)
            mismatches = [_renumber(l, m.image) for l, m in zip(located, mismatches)] or mismatches

    failed = {m.image for m in mismatches}
    for i in range(len(images)):
        got = " ".join(str(int(v)) for v in result.outputs[i][:10])
        more = " ..." if result.outputs.shape[1] > 10 else ""
        mark = "[bold red]MISMATCH[/]" if i in failed else "bit-exact"
        console.print(f"image {i}: {got}{more}   {result.frame_ms[i]:.1f} ms   {mark}")
    ms = result.frame_ms
    console.print(
        f"run time per image: {sum(ms) / len(ms):.1f} ms mean, {min(ms):.1f} min, {max(ms):.1f} max "
        f"(testbench total {wall:.2f} s for {len(images)} image(s))"
    )
    console.print(f"compile time: {b.seconds:.1f} s")
    what = "every layer" if args.all_layers else "the output"
    if not mismatches:
        console.print(f"[bold green]bit-exact[/] on {len(images)} image(s) ({what} compared with the reference)")
        return 0
    for m in mismatches:
        console.print(f"[bold red]MISMATCH[/] {m}")
    return 1


def _renumber(m: Divergence, image: int) -> Divergence:
    return attrs.evolve(m, image=image)
