"""What the GAP8 backend needs to know of a layer: its kind, shapes and element sizes.

Everything here is read from the checked IR; nothing is re-derived from the spec.
"""

from __future__ import annotations

import attrs

from ... import ir
from ...errors import UnsupportedByBackend

__all__ = ["Geom", "geometry", "fused", "storage_bytes", "C_TYPES"]

C_TYPES = {1: None, 4: "int32_t"}


def storage_bytes(t, layer: ir.Layer) -> tuple[int, str]:
    """Bytes per element and the C type of a tensor of integer type ``t`` (None: int32)."""
    if t is None:
        return 4, "int32_t"
    if 0 <= t.min and t.max <= 255:
        return 1, "uint8_t"
    if -128 <= t.min and t.max <= 127:
        return 1, "int8_t"
    raise UnsupportedByBackend(
        f"layer {layer.name!r}: activations of type {t} do not fit one byte; the GAP8 backend stores activations in 8 bits",
        span=layer.span,
        hint="declare activations of at most 8 bits (GAP8 uses uint7 or int8)",
    )


@attrs.frozen
class Geom:
    """One layer as the tiler sees it: input (h, w, cin) -> output (oh, ow, cout)."""

    name: str
    kind: str  # conv | dw | pw | fc | pool | topk
    h: int
    w: int
    cin: int
    oh: int
    ow: int
    cout: int
    k: int = 1
    s: int = 1
    pad: int = 0
    e_in: int = 1
    e_out: int = 1
    in_ctype: str = "uint8_t"
    out_ctype: str = "uint8_t"
    topk: int = 0

    @property
    def dw_macs(self) -> int:
        """MACs of the depthwise half of a fused depthwise + pointwise step."""
        return self.oh * self.ow * self.cin * self.k * self.k if self.kind == "dwpw" else 0

    @property
    def macs(self) -> int:
        if self.kind == "dwpw":
            return self.dw_macs + self.oh * self.ow * self.cout * self.cin
        if self.kind == "dw":
            return self.oh * self.ow * self.cout * self.k * self.k
        if self.kind in ("conv", "pw", "fc"):
            return self.oh * self.ow * self.cout * self.k * self.k * self.cin
        if self.kind == "pool":
            return self.h * self.w * self.cin
        return 0

    @property
    def has_weights(self) -> bool:
        return self.kind in ("conv", "dw", "pw", "fc", "dwpw")

    @property
    def in_bytes(self) -> int:
        return self.h * self.w * self.cin * self.e_in

    @property
    def out_bytes(self) -> int:
        return self.oh * self.ow * self.cout * self.e_out

    def weight_count(self, c0: int, c1: int) -> int:
        """Weights of output channels [c0, c1)."""
        if self.kind == "dw":
            return (c1 - c0) * self.k * self.k
        if self.kind == "dwpw":
            return (c1 - c0) * self.cin
        return (c1 - c0) * self.k * self.k * self.cin

    @property
    def dw_weight_bytes(self) -> int:
        """Depthwise weights, bias and m0 of a fused step (loaded once per layer)."""
        return ((self.cin * self.k * self.k + 3) & ~3) + 8 * self.cin if self.kind == "dwpw" else 0


def geometry(net: ir.Network, layer: ir.Layer, in_type) -> Geom:
    """The :class:`Geom` of a checked layer whose input elements have type ``in_type``."""
    i, o = layer.in_shape, layer.out_shape
    e_in, in_ct = storage_bytes(in_type, layer)
    if isinstance(layer, ir.TopK):
        return Geom(layer.name, "topk", 1, 1, i.size, 1, 1, layer.k, e_in=e_in, e_out=4, in_ctype=in_ct,
                    out_ctype="int32_t", topk=layer.k)
    act = getattr(layer, "act_type", None)
    e_out, out_ct = storage_bytes(act, layer)
    common = dict(e_in=e_in, e_out=e_out, in_ctype=in_ct, out_ctype=out_ct)
    if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
        wt = layer.weight_type
        if wt.min < -128 or wt.max > 127:
            raise UnsupportedByBackend(
                f"layer {layer.name!r}: weights of type {wt} do not fit int8; the GAP8 kernels use 8-bit weights",
                span=layer.span,
                hint="declare weights of at most 8 bits",
            )
    if isinstance(layer, ir.Conv):
        kind = "pw" if layer.is_pointwise else "conv"
        return Geom(layer.name, kind, i.h, i.w, i.c, o.h, o.w, o.c, layer.kernel, layer.stride, layer.pad, **common)
    if isinstance(layer, ir.DwConv):
        return Geom(layer.name, "dw", i.h, i.w, i.c, o.h, o.w, o.c, layer.kernel, layer.stride, layer.pad, **common)
    if isinstance(layer, ir.FC):
        return Geom(layer.name, "fc", 1, 1, i.size, 1, 1, layer.out_channels, **common)
    if isinstance(layer, ir.AvgPool):
        if (o.h, o.w) != (1, 1):
            raise UnsupportedByBackend(f"layer {layer.name!r}: the GAP8 backend implements the global average pool only",
                              span=layer.span)
        return Geom(layer.name, "pool", i.h, i.w, i.c, 1, 1, i.c, **common)
    raise UnsupportedByBackend(f"layer {layer.name!r}: kind {layer.kind} has no GAP8 kernel", span=layer.span)


def fused(dw: Geom, pw: Geom) -> Geom:
    """One step computing a depthwise layer and the pointwise layer after it: each spatial
    tile's depthwise output stays in L1 (never written to L2 or L3)."""
    return Geom(f"{dw.name}+{pw.name}", "dwpw", dw.h, dw.w, dw.cin, pw.oh, pw.ow, pw.cout, dw.k, dw.s, dw.pad,
                e_in=dw.e_in, e_out=pw.e_out, in_ctype=dw.in_ctype, out_ctype=pw.out_ctype)
