"""The checking pipeline: each pass takes a network and returns a new one."""

from __future__ import annotations

from typing import Callable

from .. import ir
from ..autofold import LayerCost
from .folding import check_folding, resolve_folding
from .shapes import infer_shapes
from .types import infer_types

__all__ = ["PIPELINE", "check"]

PIPELINE = (infer_shapes, infer_types, resolve_folding, check_folding)


def check(net: ir.Network, cost_model: Callable[[ir.Network], LayerCost | None] | None = None) -> ir.Network:
    """Run every pass; raise a located MbdslError on the first problem. ``cost_model`` is the
    resource model ``fold(auto)`` goals are optimized with (see :func:`resolve_folding`)."""
    for run in PIPELINE:
        net = resolve_folding(net, cost_model) if run is resolve_folding else run(net)
    return net
