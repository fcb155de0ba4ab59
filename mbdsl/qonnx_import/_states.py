"""What the current tensor of the walk is, in integer terms (see :mod:`._lower`)."""

from __future__ import annotations

import attrs
import numpy as np

from .. import ir
from ..dtypes import IntType
from ._model import Site

__all__ = ["Pixels", "Codes", "Acc", "Sum", "pixels_after_quant"]


@attrs.define
class Pixels:
    """The raw u8 image after float preprocessing: ``(pixel * scale - mean[c]) / std[c]``."""

    scale: float
    mean: np.ndarray
    std: np.ndarray
    shape: tuple[int, int, int]

    def preprocess(self) -> ir.Preprocess:
        return ir.Preprocess(float(self.scale), tuple(float(m) for m in self.mean), tuple(float(s) for s in self.std))

    @property
    def plain(self) -> bool:
        return bool(np.all(self.mean == 0) and np.all(self.std == 1))


@attrs.define
class Codes:
    """Integer codes of a type: ``value[c] = scale[c] * code``."""

    type: IntType
    scale: np.ndarray  # (C,)
    shape: tuple[int, int, int]
    tensor: str
    flat: bool = False


@attrs.define
class Acc:
    """A MAC layer's integer accumulator through a float affine,
    ``y[c] = a[c] * (s[c] * acc + o[c]) + b[c]``, optionally through a ReLU; the layer
    (its output type still open), its integer weights, and where ONNX computes it."""

    layer: ir.Layer
    weights: np.ndarray
    site: Site
    s: np.ndarray
    o: np.ndarray
    a: np.ndarray
    b: np.ndarray
    shape: tuple  # (C, H, W) or (O,) for fc
    tensor: str
    relu: bool = False
    mac_node: object = None


@attrs.define
class Sum:
    """A global pool's integer sum of ``n`` codes of ``in_type``: ``value[c] = f[c] * sum``."""

    n: int
    f: np.ndarray
    in_type: IntType
    shape: tuple[int, int, int]
    site: Site


def pixels_after_quant(st: Pixels, step: np.ndarray, off: np.ndarray) -> Pixels:
    """The image after an exact input Quant: value = step * (pixel + off)."""
    mean = -off.astype(np.float64)
    if np.all(step == step[0]):
        return Pixels(float(step[0]), mean * float(step[0]), np.ones_like(mean), st.shape)
    return Pixels(1.0, mean, 1.0 / step, st.shape)
