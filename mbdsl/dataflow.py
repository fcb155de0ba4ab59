"""How layers map onto streaming units, and how many cycles each unit needs per frame.

Shared by the folding pass, the estimates, and the RTL and HLS backends, so that the
cycle figures the tools print are the ones the hardware is built to reach.
"""

from __future__ import annotations

import attrs
import numpy as np

from . import ir
from .semantics import window_out

__all__ = [
    "Window", "window", "unit_cycles", "window_cycles", "layer_cycles", "input_beat", "input_cycles", "with_pixels", "fifo_depth",
    "mac_cycles", "weight_word_bytes", "stream_bytes", "streamed", "offchip_bytes", "offchip_ii", "channel_lanes", "weight_lanes",
    "divisors",
]


@attrs.frozen
class Window:
    """A sliding-window generator in front of a compute unit.

    Each output beat holds ``kpar`` kernel positions of ``cpar`` channels. ``depthwise``
    orders a pixel's window channel group first (for vector units); otherwise kernel
    position first (for matrix-vector units, matching the (kh, kw, cin) weight columns).
    Each input beat holds ``pixels`` whole pixels (more than one only with ``cpar`` equal to
    the channels: the first layer behind a multi-pixel input port).
    """

    ifm_h: int
    ifm_w: int
    channels: int
    kernel: int
    stride: int
    pad: int
    cpar: int
    kpar: int
    depthwise: bool
    pixels: int = 1

    @property
    def ofm_h(self) -> int:
        return window_out(self.ifm_h, self.kernel, self.stride, self.pad)

    @property
    def ofm_w(self) -> int:
        return window_out(self.ifm_w, self.kernel, self.stride, self.pad)

    @property
    def channel_beats(self) -> int:
        """Beats of one input pixel: C/CPAR."""
        return self.channels // self.cpar

    @property
    def row_beats(self) -> int:
        """Input beats of one image row: W*C/CPAR pixels' beats, ``pixels`` pixels a beat."""
        return self.ifm_w * self.channel_beats // self.pixels

    @property
    def kernel_groups(self) -> int:
        """Beats of one window per channel group: K*K/KPAR kernel positions."""
        return self.kernel * self.kernel // self.kpar

    @property
    def ring_rows(self) -> int:
        """Rows the generator buffers: K for the window plus S loading ahead."""
        return self.kernel + self.stride

    @property
    def fill_rows(self) -> int:
        """Input rows a frame's first output row needs: its rows 0..K-1-P of the image."""
        return max(0, min(self.kernel - self.pad, self.ifm_h))

    @property
    def fill_cycles(self) -> int:
        """Cycles a frame's first output row waits for input rows.

        Rows stream continuously across frames. While the last output row of a frame is
        emitted, the ring holds the frame's rows from the lowest that row reads,
        ``lo = max(0, (OH-1)*S - P)``, and has room for ``lo + K + S - H`` rows past the
        frame's end; the first output row of the next frame needs :attr:`fill_rows`, and
        waits for those that did not fit.
        """
        lo = max(0, (self.ofm_h - 1) * self.stride - self.pad)
        room = lo + self.ring_rows - self.ifm_h
        return max(0, self.fill_rows - max(0, room)) * self.row_beats

    @property
    def cycles(self) -> int:
        emit = self.ofm_w * self.kernel_groups * self.channel_beats
        load = self.stride * self.row_beats
        return self.ofm_h * max(emit, load) + self.fill_cycles


def window(layer: ir.Layer) -> Window | None:
    """The window generator a layer needs, or None (a pointwise conv, or no conv)."""
    if isinstance(layer, ir.Conv):
        if layer.is_pointwise:
            return None
        c = layer.in_shape.c
        simd = layer.fold.simd
        cpar, kpar = (simd, 1) if simd <= c else (c, simd // c)
        depthwise = False
    elif isinstance(layer, ir.DwConv):
        cpar, kpar, depthwise = layer.fold.pe, layer.fold.simd, True
    else:
        return None
    s = layer.in_shape
    # whole pixels only: a layer that takes part of a pixel per beat gets the port's beats split
    pixels = layer.in_pixels if cpar == s.c else 1
    return Window(s.h, s.w, s.c, layer.kernel, layer.stride, layer.pad, cpar, kpar, depthwise, pixels)


def unit_cycles(layer: ir.Layer) -> int:
    """Cycles per frame of the compute unit alone (FINN's formulas)."""
    if isinstance(layer, ir.TopK):
        return layer.in_shape.c
    f = layer.fold
    if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
        return mac_cycles(layer.matrix, f.pe, f.simd, layer.out_shape.h * layer.out_shape.w)
    if isinstance(layer, ir.AvgPool):
        s = layer.in_shape
        return s.c // f.pe * s.h * s.w
    raise TypeError(layer)


def mac_cycles(matrix: tuple[int, int], pe: int, simd: int, vectors: int) -> int:
    """Cycles of a matrix-vector or vector unit: one beat per cycle, (rows/PE)*(cols/SIMD)
    beats for each of ``vectors`` input vectors (pixels)."""
    rows, cols = matrix
    return (rows // pe) * (cols // simd) * vectors


def weight_word_bytes(layer: ir.Layer) -> int:
    """Bytes of one weight word, the PE*SIMD weights a MAC unit uses in one beat (as a stream
    carries it: whole bytes)."""
    return -(-layer.fold.pe * layer.fold.simd * layer.weight_type.bits // 8)


def stream_bytes(layer: ir.Layer) -> int:
    """Bytes a unit with ``fold(weights = stream)`` reads from off-chip memory per frame: one
    weight word each beat, the whole matrix again for every input vector (pixel)."""
    return unit_cycles(layer) * weight_word_bytes(layer)


def streamed(layer: ir.Layer) -> bool:
    """Whether a layer's weights are streamed from off-chip memory (``fold(weights = stream)``)."""
    return getattr(getattr(layer, "fold", None), "weights", "rom") == "stream"


def offchip_bytes(net: ir.Network) -> int:
    """Bytes a frame reads from off-chip memory: every streamed layer's ``stream_bytes``."""
    return sum(stream_bytes(layer) for layer in net.layers if streamed(layer))


def offchip_ii(net: ir.Network, gbps: float, clock_hz: float) -> float:
    """The least II (cycles per frame) off-chip memory of ``gbps`` peak GB/s allows at
    ``clock_hz``: a frame's ``offchip_bytes`` at ``gbps * 1e9 / clock_hz`` bytes a cycle.
    An estimate: real memory reaches less than its peak."""
    return offchip_bytes(net) / (gbps * 1e9 / clock_hz)


def window_cycles(layer: ir.Layer) -> int:
    w = window(layer)
    return w.cycles if w else 0


def layer_cycles(layer: ir.Layer) -> int:
    """Cycles per frame of a layer: its slowest unit."""
    return max(unit_cycles(layer), window_cycles(layer))


def input_cycles(inp: ir.Input) -> int:
    """Cycles per frame of the top's input port: P pixels per beat (``fold(pixels = P)``),
    or for NV12 one byte per beat (1.5 bytes per pixel)."""
    s = inp.shape
    return s.h * s.w * 3 // 2 if inp.format == "nv12" else s.h * s.w // inp.pixels_per_beat


def with_pixels(net: ir.Network, pixels: int | None) -> ir.Network:
    """The network with its input port taking ``pixels`` pixels per beat (None: not set,
    one): the input's setting and the stream of the first layer, which takes the port's
    beats."""
    first = attrs.evolve(net.layers[0], in_pixels=pixels or 1)
    return attrs.evolve(net.replace_layers((first,) + tuple(net.layers[1:])), input=attrs.evolve(net.input, pixels=pixels))


def input_beat(layer: ir.Layer) -> int:
    """Elements per beat of the stream a layer consumes (before its window generator)."""
    w = window(layer)
    if w is not None:
        return w.cpar * w.pixels
    if isinstance(layer, (ir.Conv, ir.FC)):
        return layer.fold.simd
    if isinstance(layer, (ir.DwConv, ir.AvgPool)):
        return layer.fold.pe
    return 1


MIN_FIFO_DEPTH = 2


def fifo_depth(layer: ir.Layer) -> int:
    """Depth, in beats of ``input_beat(layer)``, of the FIFO in front of a layer.

    Sized for the consumer's longest pause in accepting input, so that the producer can
    keep its steady rate through it: a window generator takes no input while it emits the
    rows it holds, for at most one input row; a matrix-vector unit takes one input vector
    (MW/SIMD beats) and then replays it for its other neuron folds.
    """
    w = window(layer)
    if w is not None:
        return max(MIN_FIFO_DEPTH, w.row_beats)
    if isinstance(layer, (ir.Conv, ir.FC)):
        mw = layer.matrix[1]
        return max(MIN_FIFO_DEPTH, mw // layer.fold.simd)
    return MIN_FIFO_DEPTH


def channel_lanes(values: np.ndarray, pe: int) -> np.ndarray:
    """Per-channel values (C, ...) as a unit's PE lanes hold them: (C/PE, PE, ...), channel
    ``nf*PE + p`` at ``[nf, p]`` (PE lane p computes channels p, PE + p, 2*PE + p, ...)."""
    values = np.asarray(values)
    return values.reshape((values.shape[0] // pe, pe) + values.shape[1:])


def weight_lanes(w: np.ndarray, pe: int, simd: int) -> np.ndarray:
    """A (rows, columns) weight matrix as a unit's lanes read it: (rows/PE, columns/SIMD,
    PE, SIMD), ``W[nf*PE + p, sf*SIMD + s]`` at ``[nf, sf, p, s]``. Matrix-vector units
    take (MH, MW) (columns (kh, kw, cin) for a convolution), vector units (C, K*K) with
    SIMD over kernel positions; the RTL and HLS backends store exactly this order."""
    lanes = channel_lanes(w, pe)
    nf, _, cols = lanes.shape
    return lanes.reshape(nf, pe, cols // simd, simd).transpose(0, 2, 1, 3)


def divisors(*factors: int) -> list[int]:
    """Sorted divisors of the product of ``factors``, from their prime factorizations.

    Trying every number up to the product takes minutes for the fan-in of an fc layer on a
    large feature map; each factor is at most a channel count or an image size, so trial
    division up to its square root is quick.
    """
    primes: dict[int, int] = {}
    for n in factors:
        p = 2
        while p * p <= n:
            while n % p == 0:
                primes[p] = primes.get(p, 0) + 1
                n //= p
            p += 1
        if n > 1:
            primes[n] = primes.get(n, 0) + 1
    out = [1]
    for p, e in primes.items():
        out = [d * p**i for d in out for i in range(e + 1)]
    return sorted(out)
