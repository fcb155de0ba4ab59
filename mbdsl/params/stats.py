"""Statistics of a network's parameters and activations: histograms, layers whose
activations collapse onto one code, and the summary ``mbdsl check`` prints."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .. import ir, reference
from .calibration import sample_images
from .model import Params

__all__ = ["activation_histograms", "concentrated_layers", "summary"]


def activation_histograms(net: ir.Network, params: Params, images) -> dict[str, np.ndarray]:
    """Layer name -> counts of each output code (index = code - act_type.min), over
    ``images``, for every layer with an activation type."""
    outs = reference.run_batch(net, params, images)
    hists = {}
    for layer, y in zip(net.layers, outs):
        out = getattr(layer, "act_type", None)
        if out is None or isinstance(layer, ir.TopK):
            continue
        hists[layer.name] = np.bincount((y - out.min).ravel(), minlength=out.levels)
    return hists


def concentrated_layers(hists: Mapping[str, np.ndarray], limit: float = 0.9) -> list[tuple[str, int, float]]:
    """Layers whose most frequent code holds more than ``limit`` of the outputs:
    ``(name, code index, fraction)``. Empty for a network worth testing."""
    bad = []
    for name, h in hists.items():
        frac = h.max() / max(h.sum(), 1)
        if frac > limit:
            bad.append((name, int(h.argmax()), float(frac)))
    return bad


def _range(a) -> str:
    a = np.asarray(a)
    return f"{a.min()}..{a.max()}" if a.size > 1 else f"{a.item()}"


def summary(net: ir.Network, params: Params, images=None, n_images: int = 2) -> str:
    """A per-layer table: parameters and how the output codes spread on sample images."""
    if images is None:
        images = sample_images(net, n_images, seed=12345)
    hists = activation_histograms(net, params, images)
    rows = [("layer", "kind", "out", "weights", "quantization", "codes used", "top code")]
    for layer in net.layers:
        lp = params[layer.name]
        w = f"{lp.weights.shape} {_range(lp.weights)}" if lp.weights is not None else ""
        q = []
        if lp.thresholds is not None:
            q.append(f"thr {_range(lp.thresholds)}")
        if lp.bias is not None:
            q.append(f"bias {_range(lp.bias)}")
        if lp.m0 is not None:
            q.append(f"m0 {_range(lp.m0)}")
        if lp.shift is not None:
            q.append(f">>{lp.shift}")
        used = top = ""
        if layer.name in hists:
            h = hists[layer.name]
            used = f"{np.count_nonzero(h)}/{h.size}"
            top = f"{int(h.argmax()) + layer.act_type.min} ({100 * h.max() / max(h.sum(), 1):.1f}%)"
        rows.append((layer.name, layer.kind, str(layer.out_shape), w, " ".join(q), used, top))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(wd) for cell, wd in zip(r, widths)).rstrip() for r in rows)
