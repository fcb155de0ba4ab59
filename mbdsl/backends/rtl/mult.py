"""How the MAC units' products are built, per layer (``fold(..., mult = ...)``), and the
rule of packed products (``hdl/mbdsl_mul_packed.sv`` implements it; its header has the proof).

``lut``: LUT multipliers whatever synthesis is allowed (every product at most 8 bits, below
yosys' ``mul2dsp`` threshold of 9); ``dsp``: one product per DSP48E2; ``packed``: the PE
lanes of a matrix-vector unit share their input x, so ``packing`` of them are one DSP48E2
multiply, ``(w[0] + w[1] 2^S + ...) * x``; a vector unit's lanes share nothing, so two of
them are one multiply (``hdl/mbdsl_mul_pair.sv``, :func:`pair_product`, where
``mbdsl.dsp48.pair_fits``): two kernel positions of a channel as their dot product, the odd
last kernel positions of two channels as two products (:func:`pair_units`). A layer that does not say leaves the choice to
synthesis (the SV default, ``MULT`` 0), as before per-layer choices existed.
"""

from __future__ import annotations

from ...dsp48 import DSP_A_BITS, DSP_B_BITS, field_bits, signed_bits
from ...ir import MULTS

__all__ = ["MULT_CODES", "DSP_A_BITS", "DSP_B_BITS", "field_bits", "packed_operand_bits", "packing", "packed_product", "unpack",
           "pair_product", "pair_unpack", "pair_units"]

MULT_CODES = dict(zip(MULTS, (1, 2, 3)))
"""Their values of the SV parameter ``MULT`` (mbdsl_mac_core's MULT_LUT, MULT_DSP, MULT_PACKED)."""
def packed_operand_bits(n: int, in_bits: int, in_signed: bool, w_bits: int, w_signed: bool = True) -> int:
    """Bits of the packed operand sum_k w[k] 2^(k S) of ``n`` weights (mbdsl_mul_packed's
    AW): the top weight at field n-1, and one bit more for the fields below it."""
    s = field_bits(in_bits, in_signed, w_bits, w_signed)
    return (n - 1) * s + signed_bits(w_bits, w_signed) + (1 if n > 1 else 0)


def packing(in_bits: int, in_signed: bool, w_bits: int, w_signed: bool = True) -> int:
    """Products per DSP48E2 multiply: the most whose packed operand fits the 27-bit port
    (4 x 4 bits: 3; 8 x 8 bits: 2)."""
    n = 1
    while packed_operand_bits(n + 1, in_bits, in_signed, w_bits, w_signed) <= DSP_A_BITS:
        n += 1
    return n


def packed_product(x: int, ws: list[int], s: int) -> int:
    """The one multiply: (sum_k w[k] 2^(k s)) * x."""
    return sum(w << (k * s) for k, w in enumerate(ws)) * x


def unpack(p: int, n: int, s: int) -> list[int]:
    """The n products from a packed product ``p``: field k read as S bits signed, plus the
    borrow of the fields below (bit k*s - 1 of p), as mbdsl_mul_packed does."""
    out = []
    for k in range(n):
        field = (p >> (k * s)) & ((1 << s) - 1)
        value = field - (1 << s) if field >> (s - 1) else field
        out.append(value + ((p >> (k * s - 1)) & 1 if k else 0))
    return out


def pair_product(xs: tuple[int, int], ws: tuple[int, int], s: int, dot: bool) -> int:
    """The one multiply of a lane pair (mbdsl_mul_pair): (x0 + x1 2^s) (w1 + w0 2^s) if
    ``dot``, else (x0 + x1 2^s) (w0 + w1 2^s)."""
    lo, hi = (ws[1], ws[0]) if dot else ws
    return (xs[0] + (xs[1] << s)) * (lo + (hi << s))


def pair_unpack(p: int, s: int, dot: bool) -> list[int]:
    """What mbdsl_mul_pair reads from ``p``: [x0 w0 + x1 w1] (the middle field plus the low
    field's borrow) if ``dot``, else [x0 w0, x1 w1] (the low field, the high field, S - 1 bits,
    plus the borrow of the fields below)."""
    def field(k: int, bits: int) -> int:
        f = (p >> (k * s)) & ((1 << bits) - 1)
        return (f - (1 << bits) if f >> (bits - 1) else f) + ((p >> (k * s - 1)) & 1 if k else 0)
    return [field(1, s)] if dot else [field(0, s), field(2, s - 1)]


def pair_units(pe: int, simd: int) -> tuple[int, int, int]:
    """A packed vector unit's multiplies (mbdsl_mac_core's PAIRS): dot-product pairs (SIMD
    lanes 2j, 2j+1 of every PE lane), two-product pairs (the odd last SIMD lanes of PE lanes
    2q, 2q+1) and products alone (the very last lane if PE and SIMD are both odd)."""
    odd = simd % 2
    return pe * (simd // 2), odd * (pe // 2), odd * (pe % 2)
