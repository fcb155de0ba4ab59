"""``mbdsl gen``: generate code for one or more targets, written atomically."""

from __future__ import annotations

import os

from .. import backends
from ..params import make_params
from ..output import check_folder, write_tree
from .common import console, load_checked


def register(sub) -> None:
    p = sub.add_parser("gen", help="generate code (Verilog, HLS C++, GAP8 C) from a spec")
    p.add_argument("spec")
    p.add_argument("--target", action="append", choices=backends.TARGETS, help=f"repeatable; default: {backends.TARGETS[0] if backends.TARGETS else 'none'}")
    p.add_argument("-o", "--output", default="generated", metavar="DIR", help="output root (default: generated)")
    p.set_defaults(func=run)


def run(args) -> int:
    check_folder(args.output)
    net = load_checked(args.spec)
    params = make_params(net)
    targets = args.target or list(backends.TARGETS[:1])
    # Generate everything in memory first: a target that refuses the spec writes nothing.
    trees = {target: backends.generate(target, net, params) for target in targets}
    for target, files in trees.items():
        dest = os.path.join(args.output, net.name, target)
        write_tree(dest, files)
        console.print(f"{target}: {len(files)} files in {dest}")
    return 0
