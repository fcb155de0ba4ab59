"""How the MAC units' products are built, per layer (``fold(..., mult = ...)``), and the
rule of packed products (``hdl/mbdsl_mul_packed.sv`` implements it; its header has the proof).

``lut``: LUT multipliers whatever synthesis is allowed (every product at most 8 bits, below
yosys' ``mul2dsp`` threshold of 9); ``dsp``: one product per DSP48E2; ``packed``: the PE
lanes of a matrix-vector unit share their input x, so ``packing`` of them are one DSP48E2
multiply, ``(w[0] + w[1] 2^S + ...) * x``. A layer that does not say leaves the choice to
synthesis (the SV default, ``MULT`` 0), as before per-layer choices existed.
"""

from __future__ import annotations

from ...ir import MULTS

__all__ = ["MULT_CODES", "DSP_A_BITS", "DSP_B_BITS", "field_bits", "packed_operand_bits", "packing", "packed_product", "unpack"]

MULT_CODES = dict(zip(MULTS, (1, 2, 3)))
"""Their values of the SV parameter ``MULT`` (mbdsl_mac_core's MULT_LUT, MULT_DSP, MULT_PACKED)."""
DSP_A_BITS, DSP_B_BITS = 27, 18
"""The DSP48E2 multiplier: 27 x 18 bits, signed."""


def _signed_bits(bits: int, signed: bool) -> int:
    return bits + (0 if signed else 1)


def field_bits(in_bits: int, in_signed: bool, w_bits: int, w_signed: bool = True) -> int:
    """S, the bits of one packed product's field: every w * x fits S bits signed with
    |w x| < 2^(S-1) (mbdsl_mul_packed's S)."""
    return _signed_bits(w_bits, w_signed) + _signed_bits(in_bits, in_signed) - 1 + (1 if in_signed and w_signed else 0)


def packed_operand_bits(n: int, in_bits: int, in_signed: bool, w_bits: int, w_signed: bool = True) -> int:
    """Bits of the packed operand sum_k w[k] 2^(k S) of ``n`` weights (mbdsl_mul_packed's
    AW): the top weight at field n-1, and one bit more for the fields below it."""
    s = field_bits(in_bits, in_signed, w_bits, w_signed)
    return (n - 1) * s + _signed_bits(w_bits, w_signed) + (1 if n > 1 else 0)


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
