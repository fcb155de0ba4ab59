"""``mbdsl sim``: generate the RTL, build it with Verilator, stream images through it and
compare with the reference; print latency, initiation interval and FPS beside the model."""

from __future__ import annotations

import os
import time

from .. import backends
from ..estimates import estimate, offchip_note
from ..images import random_images
from ..output import check_folder, write_tree
from ..params import make_params
from ..backends.rtl import netsim
from ..backends.rtl.impl import throughput_clock
from .common import MAX_IMAGES, check_image_batch, console, count, fraction, load_checked, seed


def register(sub) -> None:
    p = sub.add_parser("sim", help="simulate the generated Verilog with Verilator, bit-exact against the reference")
    p.add_argument("spec")
    p.add_argument("--images", type=count(1, MAX_IMAGES), default=4, metavar="N", help="random images streamed back to back (default 4)")
    p.add_argument("--stall", type=fraction(0.9), default=0.0, metavar="P", help="probability of a stall on input valid and output ready per cycle (0 to 0.9)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the images and stalls")
    p.add_argument("--no-trace", action="store_true", help="do not record per-layer streams (faster; a mismatch then names no layer)")
    p.add_argument("-o", "--output", default="generated", metavar="DIR", help="output root (default: generated)")
    p.add_argument("--build-dir", default=os.path.join("build", "sim"), metavar="DIR")
    p.set_defaults(func=run)


def run(args) -> int:
    for folder in (args.output, args.build_dir):
        check_folder(folder)
    net = load_checked(args.spec)
    check_image_batch(net, args.images)
    params = make_params(net)
    rtl_dir = os.path.join(args.output, net.name, "rtl")
    write_tree(rtl_dir, backends.generate("rtl", net, params))
    build_dir = os.path.join(args.build_dir, net.name)
    with console.status("building") as status:
        t0 = time.perf_counter()
        netsim.build(rtl_dir, build_dir, log=lambda s: status.update(s))
        built = time.perf_counter() - t0
        console.print(f"built {net.name} in {built:.1f} s")
        images = random_images(net.input, args.images, seed=args.seed)
        result = netsim.simulate(
            net, params, images, rtl_dir, build_dir, stall=args.stall, seed=args.seed + 1,
            trace=not args.no_trace, log=lambda s: status.update(s),
        )
    figures = estimate(net)
    clock, clock_what = throughput_clock(net, args.output)
    for i, (got, want) in enumerate(zip(result.outputs, result.expected)):
        mark = "ok" if list(got) == list(want) else "MISMATCH"
        console.print(f"image {i}: RTL {' '.join(map(str, got))}   reference {' '.join(map(str, want))}   {mark}")
    console.print(f"simulated {result.cycles:,} cycles in {result.seconds:.2f} s ({result.cycles / max(result.seconds, 1e-9):,.0f} cycles/s)")
    if result.load_cycles is not None:
        console.print(f"weight load          {result.load_cycles:,} cycles, once after reset (UltraRAM units; "
                      "not part of the latency or the II)")
    if result.frame_done:  # no frame comes out of a design that stops at the cycle budget
        console.print(f"latency              {result.latency:,} cycles")
    if result.ii is not None:
        error = (result.ii - figures.ii) / figures.ii * 100
        console.print(f"initiation interval  {result.ii:,.0f} cycles measured, {figures.ii:,} analytic ({error:+.1f}%), bottleneck {figures.bottleneck_name}")
        console.print(f"throughput           {clock / result.ii:,.1f} FPS measured, {clock / figures.ii:,.1f} analytic, at {clock / 1e6:g} MHz ({clock_what})")
        if (offchip := offchip_note(net, clock)) is not None:
            console.print(f"                     {offchip}; the harness feeds the weight streams as fast as the units take them")
        if args.stall:
            console.print(f"                     (the analytic figures assume no stalls; with the input valid on {1 - args.stall:.0%} "
                          f"of cycles the input port alone needs {figures.input_cycles / (1 - args.stall):,.0f} cycles per frame)")
    if result.exact:
        console.print(f"[bold green]bit-exact[/] on {len(images)} images")
        return 0
    console.print(f"[bold red]MISMATCH[/]: {result.mismatch}")
    return 1
