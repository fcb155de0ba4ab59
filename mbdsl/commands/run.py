"""``mbdsl run``: run the numpy reference on images and print the top-k classes."""

from __future__ import annotations

import time

from .. import ir, reference
from ..images import iter_random_images, read_image
from ..params import make_params
from .common import MAX_IMAGES, console, count, load_checked, seed


def register(sub) -> None:
    p = sub.add_parser("run", help="run the numpy reference and print the top-k classes")
    p.add_argument("spec")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--image", action="append", metavar="FILE", help="a photo (PNG, JPEG, BMP, PPM), a uint8 .npy (H, W, C), or a raw .nv12 frame (repeatable)")
    group.add_argument("--random", type=count(1, MAX_IMAGES), default=1, metavar="N", help="N seeded random images (default 1)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the random images")
    p.set_defaults(func=run)


def run(args) -> int:
    net = load_checked(args.spec)
    params = make_params(net)
    if args.image:  # all read first: a file that cannot be read stops the run before it starts
        images = [(path, read_image(path, net.input)) for path in args.image]
    else:  # made one at a time: a long run holds one image
        images = ((f"random #{i}", img) for i, img in enumerate(iter_random_images(net.input, args.random, seed=args.seed)))
    for label, image in images:
        t0 = time.perf_counter()
        outputs = reference.run(net, params, image)
        elapsed = time.perf_counter() - t0
        result = outputs[-1]
        kind = "top-k classes" if isinstance(net.layers[-1], ir.TopK) else "output"
        console.print(f"{label}: {kind} {' '.join(str(int(v)) for v in result.reshape(-1))}   ({elapsed * 1000:.0f} ms)")
    return 0

