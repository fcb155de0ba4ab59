"""Self-describing integer types shared by the DSL, the reference and every backend."""

from __future__ import annotations

import math
import re

import attrs
import numpy as np

__all__ = ["IntType", "bits_for_range", "UINT8", "INT32"]

_NAME_RE = re.compile(r"^(u?)int(\d+)$")


@attrs.frozen
class IntType:
    """An integer type of ``bits`` bits, signed or not.

    ``narrow`` drops the most negative value of a signed type (``int4 narrow`` is -7..7),
    as FINN/Brevitas weights use.
    """

    bits: int
    signed: bool
    narrow: bool = False

    @classmethod
    def parse(cls, name: str, narrow: bool = False) -> IntType:
        """``"int4"``, ``"uint8"`` -> IntType; raises ValueError on other text."""
        m = _NAME_RE.match(name)
        if not m:
            raise ValueError(f"not an integer type: {name!r}")
        return cls(int(m.group(2)), signed=not m.group(1), narrow=narrow)

    @property
    def min(self) -> int:
        if not self.signed:
            return 0
        return -(1 << (self.bits - 1)) + (1 if self.narrow else 0)

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    @property
    def levels(self) -> int:
        """Number of representable values."""
        return self.max - self.min + 1

    @property
    def name(self) -> str:
        base = f"{'' if self.signed else 'u'}int{self.bits}"
        return base + " narrow" if self.narrow else base

    def allowed(self, values: np.ndarray) -> bool:
        """True if every value lies in [min, max]."""
        values = np.asarray(values)
        return bool(values.size == 0 or (values.min() >= self.min and values.max() <= self.max))

    def __str__(self) -> str:
        return self.name


def bits_for_range(lo: int, hi: int) -> IntType:
    """The narrowest IntType (signed if ``lo < 0``) that holds every integer in [lo, hi]."""
    if lo >= 0:
        return IntType(max(1, math.ceil(math.log2(hi + 1))) if hi > 0 else 1, signed=False)
    bits = 1
    while -(1 << (bits - 1)) > lo or (1 << (bits - 1)) - 1 < hi:
        bits += 1
    return IntType(bits, signed=True)


UINT8 = IntType(8, signed=False)
INT32 = IntType(32, signed=True)
