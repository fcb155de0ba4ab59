"""The checking pipeline: each pass takes a network and returns a new one."""

from __future__ import annotations

from .. import ir
from .folding import check_folding, resolve_folding
from .shapes import infer_shapes
from .types import infer_types

__all__ = ["PIPELINE", "check"]

PIPELINE = (infer_shapes, infer_types, resolve_folding, check_folding)


def check(net: ir.Network) -> ir.Network:
    """Run every pass; raise a located MbdslError on the first problem."""
    for run in PIPELINE:
        net = run(net)
    return net
