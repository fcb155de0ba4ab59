"""The DSP48E2 multiply (27 x 18 bits, signed) and the products that fit in one: the field
widths both packings rest on (``backends.rtl.mult`` builds them; :mod:`.legality` asks
:func:`pair_fits` for a depthwise unit's ``fold(mult = packed)``).

A depthwise (vector) unit's lanes share no operand, so it packs two lanes per multiply as
``(x0 + x1 2^S) * (w1 + w0 2^S)``, whose middle field (bits S .. 2S-1) is the 2-term dot
product ``x0 w0 + x1 w1`` (hdl/mbdsl_mul_pair.sv has the proof).
"""

from __future__ import annotations

__all__ = ["DSP_A_BITS", "DSP_B_BITS", "signed_bits", "field_bits", "pair_field_bits", "pair_operand_bits", "pair_fits"]

DSP_A_BITS, DSP_B_BITS = 27, 18
"""The DSP48E2 multiplier: 27 x 18 bits, signed."""


def signed_bits(bits: int, signed: bool) -> int:
    """Bits of a ``bits``-wide operand held signed (one more if it is unsigned)."""
    return bits + (0 if signed else 1)


def field_bits(in_bits: int, in_signed: bool, w_bits: int, w_signed: bool = True) -> int:
    """The bits one product w * x needs: it fits signed with |w x| < 2^(bits-1)
    (mbdsl_mul_packed's S)."""
    return signed_bits(w_bits, w_signed) + signed_bits(in_bits, in_signed) - 1 + (1 if in_signed and w_signed else 0)


def pair_field_bits(in_bits: int, in_signed: bool, w_bits: int, w_signed: bool = True) -> int:
    """S of a pair multiply (mbdsl_mul_pair): a sum of two products, one bit more than a
    product, so the middle field holds it and its borrow stays readable."""
    return field_bits(in_bits, in_signed, w_bits, w_signed) + 1


def pair_operand_bits(in_bits: int, in_signed: bool, w_bits: int, w_signed: bool = True) -> tuple[int, int]:
    """Signed bits of a pair multiply's operands (x0 + x1 2^S, w1 + w0 2^S): the high
    value's field, and one bit more if the low value can be negative (-2^(E-1) 2^S - 2^(E-1)
    needs S + E + 1 bits)."""
    s = pair_field_bits(in_bits, in_signed, w_bits, w_signed)
    return s + signed_bits(in_bits, in_signed) + int(in_signed), s + signed_bits(w_bits, w_signed) + int(w_signed)


def pair_fits(in_bits: int, in_signed: bool, w_bits: int, w_signed: bool = True) -> bool:
    """Whether a pair multiply is one DSP48E2 multiply: one operand on the 27-bit port, the
    other on the 18-bit one (4-bit activations with weights up to 8 bits do; 8 x 8 does not)."""
    a, b = sorted(pair_operand_bits(in_bits, in_signed, w_bits, w_signed), reverse=True)
    return a <= DSP_A_BITS and b <= DSP_B_BITS
