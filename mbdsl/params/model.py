"""The parameters of a network as data: :class:`LayerParams` per layer, :class:`Params`
per network, and the shapes their arrays take.

Per layer kind and quantization style (:class:`LayerParams` fields):

=====================  ==========================  ==================================
layer                  thresholds style            multiplier style
=====================  ==========================  ==================================
conv / dwconv / fc     weights, thresholds         weights, bias, m0, shift
final fc (no act)      weights (bias if declared)  weights, bias
avgpool                shift                       m0, shift
topk                   (nothing)                   (nothing)
=====================  ==========================  ==================================
"""

from __future__ import annotations

from typing import Iterator, Mapping

import attrs
import numpy as np

from .. import ir

__all__ = ["LayerParams", "Params", "INT32_LIMIT", "weight_shape", "channels"]

INT32_LIMIT = (1 << 31) - 1
"""Largest value a 32-bit C implementation of requantization may meet."""

_FIELDS = ("weights", "thresholds", "bias", "m0", "shift")


@attrs.frozen(eq=False)
class LayerParams:
    """The integer parameters of one layer (None where the layer has no such parameter).

    ``weights``: conv (O, K, K, I), dwconv (C, K, K), fc (O, I), int64.
    ``thresholds``: (C, levels - 1) int64, sorted along each row.
    ``bias``: (C,) int64. ``m0``: int, or (C,) int64 for per-channel multipliers.
    ``shift``: int.
    """

    weights: np.ndarray | None = None
    thresholds: np.ndarray | None = None
    bias: np.ndarray | None = None
    m0: int | np.ndarray | None = None
    shift: int | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields that are set, as arrays (the npz layout's suffixes)."""
        return {f: np.asarray(getattr(self, f)) for f in _FIELDS if getattr(self, f) is not None}

    def equals(self, other: LayerParams) -> bool:
        a, b = self.arrays(), other.arrays()
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@attrs.frozen(eq=False)
class Params(Mapping[str, LayerParams]):
    """Layer name -> :class:`LayerParams`, in layer order."""

    layers: dict[str, LayerParams]

    def __getitem__(self, name: str) -> LayerParams:
        return self.layers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def equals(self, other: Params) -> bool:
        return self.layers.keys() == other.layers.keys() and all(
            self[k].equals(other[k]) for k in self.layers
        )


def weight_shape(layer: ir.MacLayer) -> tuple[int, ...]:
    if isinstance(layer, ir.Conv):
        return (layer.out_channels, layer.kernel, layer.kernel, layer.in_shape.c)
    if isinstance(layer, ir.DwConv):
        return (layer.in_shape.c, layer.kernel, layer.kernel)
    return (layer.out_channels, layer.in_shape.size)


def channels(layer: ir.Layer) -> int:
    """Output channels: the length of a per-channel parameter."""
    return layer.out_shape.c
