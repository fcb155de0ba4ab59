"""Folding legality: which PE/SIMD the dataflow units (``mbdsl.dataflow``) can be built with.

FINN's rules, plus what our window generators can emit: matrix-vector units need PE | MH
and SIMD | MW, and a convolution's SIMD either divides its input channels (channel-folded
windows) or is a multiple C*P of them with P | K*K (the window generator emits P kernel
positions per beat); vector (depthwise) units need PE | channels and SIMD | K*K; the pool
needs PE | channels. A MAC unit's products are built as ``legal_mults`` allows
(``fold(mult = ...)``, ``backends.rtl.mult``): a vector unit packs only where two of its
lanes fit one DSP48E2 multiply (``dsp48.pair_fits``).
"""

from __future__ import annotations

import attrs

from . import ir
from .dataflow import divisors
from .dsp48 import pair_fits

__all__ = ["legal_pe", "legal_simd", "legal_folds", "legal_mults", "packs_pairs", "with_fold", "with_weights"]


def legal_pe(layer: ir.Layer) -> list[int]:
    if isinstance(layer, (ir.Conv, ir.FC)):
        return divisors(layer.matrix[0])
    if isinstance(layer, (ir.DwConv, ir.AvgPool)):
        return divisors(layer.in_shape.c)
    return [1]


def legal_simd(layer: ir.Layer) -> list[int]:
    if isinstance(layer, ir.Conv):
        c, k = layer.in_shape.c, layer.kernel
        return sorted(set(divisors(c)) | {c * p for p in divisors(k, k)})
    if isinstance(layer, ir.FC):
        s = layer.in_shape
        return divisors(s.h, s.w, s.c)  # MW = H*W*C
    if isinstance(layer, ir.DwConv):
        return divisors(layer.kernel, layer.kernel)
    return [1]


def legal_folds(layer: ir.Layer) -> list[tuple[int, int]]:
    """Every legal (PE, SIMD) of a layer."""
    return [(pe, simd) for pe in legal_pe(layer) for simd in legal_simd(layer)]


def legal_mults(layer: ir.Layer) -> tuple[str, ...]:
    """The multiplier mappings a layer's compute unit can be built with (``mults`` of its
    kind; a depthwise layer packs only if ``packs_pairs``); layers that do not multiply take none."""
    mults = getattr(layer, "mults", ())
    if isinstance(layer, ir.DwConv) and not packs_pairs(layer):
        return tuple(m for m in mults if m != "packed")
    return mults


def packs_pairs(layer: ir.DwConv) -> bool:
    """Whether two lanes of a depthwise layer (its own pixel times its own weight each) fit
    one DSP48E2 multiply at its activation and weight widths (after type inference)."""
    x, w = layer.in_type, layer.weight_type
    return pair_fits(x.bits, x.signed, w.bits, w.signed)


def with_fold(layer: ir.Layer, pe: int, simd: int, mult: str | None = None) -> ir.Layer:
    """The layer folded with ``pe`` x ``simd`` (no longer ``fold(auto)``), its products
    built as ``mult`` (None: as the layer says)."""
    mult = layer.fold.mult if mult is None else mult
    return attrs.evolve(layer, fold=attrs.evolve(layer.fold, pe=pe, simd=simd, auto=False, mult=mult))


def with_weights(layer: ir.Layer, place: str) -> ir.Layer:
    """The layer with its weights in ``place`` (``ir.WEIGHT_PLACES``), its folding as it is."""
    return attrs.evolve(layer, fold=attrs.evolve(layer.fold, weights=place))
