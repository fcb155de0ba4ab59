"""Weights and quantization parameters of a checked network: the data model (:mod:`.model`),
seeded calibration (:mod:`.calibration`), ``.npz`` files (:mod:`.npz`), statistics (:mod:`.stats`).

:func:`make_params` gives every layer its integer parameters: seeded random weights with
activations calibrated on sample images (so that codes are spread, not all 0), or the
arrays of an ``.npz`` file, validated against the network (layout in ``docs/weights.md``).

The fields each layer kind has, per quantization style, are listed in :mod:`.model`.
"""

from __future__ import annotations

import math

from .. import ir
from ..errors import MemoryBudgetError
from .calibration import calibration_count, choose_multiplier, random_params, random_weights, sample_images, worst_abs
from .model import INT32_LIMIT, LayerParams, Params, weight_shape
from .npz import expected_keys, load_npz, save_npz
from .stats import activation_histograms, concentrated_layers, summary

__all__ = [
    "LayerParams",
    "Params",
    "make_params",
    "check_size",
    "random_params",
    "random_weights",
    "sample_images",
    "calibration_count",
    "choose_multiplier",
    "worst_abs",
    "expected_keys",
    "load_npz",
    "save_npz",
    "activation_histograms",
    "concentrated_layers",
    "summary",
    "INT32_LIMIT",
    "MAX_VALUES",
    "MAX_WEIGHTS",
]


MAX_VALUES = 1 << 22
"""Most values one layer may hold per image in the reference: its input, its output, or a
convolution's windows (224x224 MobileNet-v1 needs 0.8 M)."""
MAX_WEIGHTS = 1 << 24
"""Most weights a network may have to make, load or generate code for (MobileNet-v1 1.0
has 4.2 M)."""


def check_size(net: ir.Network) -> None:
    """Refuse, at the input or the layer to blame, a network too large for the reference,
    the code generators and the GAP8 planner (``check`` and ``fold`` of FPGA specs take any
    size: they do not compute)."""
    hint = "use a smaller input or narrower layers (the limits are listed in docs/dsl.md, 'Limits')"
    if net.input.shape.size > MAX_VALUES:
        raise MemoryBudgetError(f"the input holds {net.input.shape.size:,} values per image; at most {MAX_VALUES:,} are computed",
                         net.input.span or net.span, hint)
    weights = 0
    for layer in net.layers:
        values = max(layer.in_shape.size, layer.out_shape.size)
        if isinstance(layer, (ir.Conv, ir.DwConv)):
            values = max(values, layer.out_shape.h * layer.out_shape.w * layer.fan_in)
        if values > MAX_VALUES:
            raise MemoryBudgetError(f"layer {layer.name!r} handles {values:,} values per image; at most {MAX_VALUES:,} are computed",
                             layer.span, hint)
        if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            weights += math.prod(weight_shape(layer))
            if weights > MAX_WEIGHTS:
                raise MemoryBudgetError(f"the layers up to {layer.name!r} have {weights:,} weights; at most {MAX_WEIGHTS:,} are made or loaded",
                                 layer.span, hint)


def make_params(net: ir.Network, images=None, n_images: int | None = None, base_dir: str | None = None) -> Params:
    """Every layer's parameters: random and calibrated, or loaded from the network's npz.

    ``images`` (calibration inputs for random weights) default to ``n_images`` seeded random
    images (:func:`calibration_count` if None); ``base_dir`` resolves a relative npz path (default: the spec file's folder).
    A network beyond :data:`MAX_VALUES` or :data:`MAX_WEIGHTS` is refused (:func:`check_size`).
    """
    check_size(net)
    if isinstance(net.weights, ir.NpzWeights):
        return load_npz(net, base_dir=base_dir)
    return random_params(net, images=images, n_images=n_images)
