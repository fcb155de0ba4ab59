"""What the lowering produces: per layer, the IR layer, its integer parameters, and where
the ONNX graph computes it (for verification)."""

from __future__ import annotations

import attrs
import numpy as np

from .. import ir
from ..params import LayerParams

__all__ = ["Site", "LoweredLayer", "Lowered"]


@attrs.frozen(eq=False)
class Site:
    """Where the ONNX graph computes one layer: its nodes, the tensor of the codes entering
    it and their scale (None: the raw image), the output tensor and its scale, and the
    quantizer's input tensor, step and rounding (differences at ties are counted there)."""

    nodes: tuple[str, ...]
    op: str = ""
    """The ONNX op type of the first node."""
    in_tensor: str = ""
    in_scale: np.ndarray | None = None
    out_tensor: str = ""
    out_scale: np.ndarray | None = None
    pre_tensor: str | None = None
    step: np.ndarray | None = None
    """The quantizer's step; int8 QDQ graphs: the real multiplier M (m0 / 2**shift ~ M)."""
    rounding: str | None = None
    logit_scale: float | None = None
    """Raw logits: the float scale of one accumulator step."""
    negated: int = 0
    """Output channels whose weights were negated (a negative slope before the quantizer)."""

    def then(self, node, **changes) -> Site:
        """This site extended by ``node`` (and ``changes``)."""
        return attrs.evolve(self, nodes=(*self.nodes, node.name), **changes)


@attrs.frozen(eq=False)
class LoweredLayer:
    """One imported layer (named once the spec's statements are known)."""

    layer: ir.Layer
    params: LayerParams
    site: Site


@attrs.frozen(eq=False)
class Lowered:
    """The imported layers, the input (C, H, W), its preprocessing as the spec states it,
    the ONNX input's name and the quantization style."""

    layers: tuple[LoweredLayer, ...]
    input_chw: tuple[int, int, int]
    preprocess: ir.Preprocess
    input_name: str
    quant: str = ir.THRESHOLDS
