"""Where a backend's output first differs from the reference: one comparison and one report
for every backend's runner (Verilator, HLS C simulation, GAP8 C on the host).

A runner gives, per image, the outputs it observed in stream order (every traced layer, or
only the network's output) beside the reference's; :func:`first_divergence` names the first
that differs, the number of differing values, and the first differing element in the
reference's layout.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs
import numpy as np

from .errors import Span

__all__ = ["Divergence", "first_divergence"]


@attrs.frozen
class Divergence:
    """The first output of one image that differs from the reference."""

    backend: str
    """Who produced ``got``: ``RTL``, ``HLS``, ``host``."""
    image: int
    layer: str | None
    """The layer whose output differs; None for an output that is not one layer's."""
    what: str
    """The output as the report names it (``layer b3.pw (spec.mbn:12)``, ``the output``)."""
    span: Span | None
    count: int
    """Differing values (for a size difference: the reference's size)."""
    total: int
    """Values compared."""
    index: tuple[int, ...] | None
    """First differing element, in the reference's shape (None for a size difference)."""
    got: int
    """The backend's value there (for a size difference: how many values it gave)."""
    want: int
    """The reference's value there (for a size difference: how many it has)."""

    @property
    def sizes_differ(self) -> bool:
        return self.index is None

    def __str__(self) -> str:
        if self.sizes_differ:
            return f"image {self.image}: {self.what} has {self.got} values from the {self.backend}, the reference {self.want}"
        return (
            f"image {self.image}: {self.what} differs in {self.count} of {self.total} values; first at index "
            f"{self.index}: {self.backend} {self.got}, reference {self.want}"
        )


Output = tuple["ir.Layer | str", object, object]
"""One compared output: the layer (or a name for an output that is not a layer's), what the
backend gave, what the reference gives."""


def first_divergence(backend: str, image: int, outputs: Iterable[Output]) -> Divergence | None:
    """The first of ``outputs`` (in order) whose values differ from the reference's, or None.

    ``got`` is compared with ``want`` as flat integers, then located in ``want``'s shape.
    """
    for label, got, want in outputs:
        want = np.asarray(want, dtype=np.int64)
        got = np.asarray(got, dtype=np.int64).reshape(-1)
        layer = label if not isinstance(label, str) else None
        span = layer.span if layer is not None else None
        what = label if layer is None else f"layer {layer.name}" + (f" ({span.file}:{span.line})" if span else "")
        name = layer.name if layer is not None else None
        if got.size != want.size:
            return Divergence(backend, image, name, what, span, want.size, want.size, None, got.size, want.size)
        diff = got.reshape(want.shape) != want
        if diff.any():
            index = tuple(int(v) for v in np.argwhere(diff)[0])
            got = got.reshape(want.shape)
            return Divergence(backend, image, name, what, span, int(diff.sum()), int(want.size), index,
                              int(got[index]), int(want[index]))  # fmt: skip
    return None
