"""``mbdsl gap8-run``: build the generated GAP8 C for the host and compare it with the
reference, bit for bit, layer by layer."""

from __future__ import annotations

import time

from ..backends.gap8 import host, plan_network
from ..errors import MbdslError
from ..images import random_images
from ..output import check_folder
from ..params import make_params
from .common import MAX_IMAGES, check_image_batch, console, count, load_checked, seed


def register(sub) -> None:
    p = sub.add_parser("gap8-run", help="run the generated GAP8 C on the host (checking shim) against the reference")
    p.add_argument("spec")
    p.add_argument("--images", type=count(1, MAX_IMAGES), default=2, metavar="N", help="number of seeded random images (default 2)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the random images")
    p.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (default: a temporary directory)")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.keep:
        check_folder(args.keep)
    net = load_checked(args.spec)
    check_image_batch(net, args.images)
    params = make_params(net)
    plan = plan_network(net)
    images = random_images(net.input, args.images, seed=args.seed)
    t0 = time.perf_counter()
    hr = host.run(net, params, images, workdir=args.keep, plan=plan)
    elapsed = time.perf_counter() - t0
    bad = host.compare(net, params, images, hr)
    per = ", ".join(f"{s * 1000:.0f} ms" for s in hr.seconds)
    if bad is not None:
        raise MbdslError(
            f"GAP8 host run of {net.name!r} differs from the reference: {bad}",
            span=bad.span,
            hint="rerun with --keep DIR to inspect the generated C and the trace",
        )
    console.print(
        f"{net.name}: GAP8 C on the host matches the reference bit for bit on {len(images)} image(s), "
        f"all {len(net.layers)} layers (build {hr.build_seconds:.1f} s, run {per}; total {elapsed:.1f} s)"
    )
    console.print(f"modeled GAP8 cycles per frame: {plan.total_cycles:,.0f} "
                  f"({plan.total_cycles / plan.target.clock_hz * 1e3:.1f} ms at {plan.target.clock_hz / 1e6:g} MHz)")
    return 0
