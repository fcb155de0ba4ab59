"""Packing of weights, thresholds and tensors for the RTL modules (pure numpy).

Conventions shared by every module in ``hdl/``:

- **Lanes**: a word of ``n`` lanes of ``bits`` bits holds lane ``i`` in bits
  ``[i*bits, (i+1)*bits)`` (lane 0 in the low bits); signed values are two's complement.
- **ROM files**: ``$readmemh`` text, one word per line, ``ceil(width/4)`` hex digits.
- **Weight ROM** (MVAU and VVAU) for a (rows, columns) matrix W with PE, SIMD, in the
  order of :func:`mbdsl.dataflow.weight_lanes`: ``NF*SF`` words (NF = rows/PE,
  SF = columns/SIMD), word ``nf*SF + sf``, lane ``p*SIMD + s`` = ``W[nf*PE + p, sf*SIMD + s]``.
  An MVAU's W is (MH, MW), for a convolution with columns ordered (kh, kw, cin), i.e.
  ``w.reshape(O, K*K*I)`` of an (O, K, K, I) weight; a VVAU's is (C, K2) (K2 = K*K,
  position index kh*K + kw).
- **Threshold ROM** (both) for a (CH, N) array T: ``CH/PE`` words of ``PE*N`` lanes of
  ``acc_bits`` signed bits (:attr:`mbdsl.ir.Conv.acc_bits`), lane ``p*N + i`` =
  ``T[nf*PE + p, i]`` (:func:`mbdsl.dataflow.channel_lanes`).
- **Bias ROM** (both, raw outputs with a declared bias) for (CH,) biases b: ``CH/PE``
  words of ``PE`` lanes of ``acc_bits`` signed bits, lane ``p`` = ``b[nf*PE + p]``.
- **Requantization ROM** (mbdsl_requant, the multiplier style) for (CH,) biases b and
  multipliers m0 (one, or one per channel): ``CH/PE`` words of ``PE`` lanes of
  ``bias_bits + m0_bits`` bits, lane ``p`` = ``b[nf*PE + p]`` (signed, low bits) with
  ``m0[nf*PE + p]`` (unsigned) above it; :func:`requant_widths` gives the widths.
- **Weight-load stream** (``fold(weights = uram)``): the weight words of every such unit,
  in stream order, each unit's words from address 0, each word cut into ``ceil(width/32)``
  32-bit beats, least significant first (the last beat zero-padded): :func:`load_beats`.
- **Streams**: a tensor is flattened in C order (channels-last, so channel fastest) and
  cut into beats of ``elems`` elements, element 0 of the beat in the low bits.
- **Window streams** (sliding-window generator output): see :func:`window_beats`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np

from ...dataflow import channel_lanes, weight_lanes
from ...semantics import window_out
from ...dtypes import bits_for_range

__all__ = [
    "pack_words",
    "unpack_words",
    "memh",
    "weight_words",
    "threshold_words",
    "bias_words",
    "weight_memh",
    "threshold_memh",
    "bias_memh",
    "load_beats",
    "load_memh",
    "write_weights",
    "write_thresholds",
    "write_biases",
    "clip_thresholds",
    "requant_widths",
    "requant_words",
    "tensor_to_beats",
    "beats_to_tensor",
    "window_beats",
]


def pack_words(lanes: np.ndarray, bits: int) -> list[int]:
    """Pack a (n_words, n_lanes) integer array into words; lane 0 in the low bits.

    Values must fit ``bits`` bits as signed or unsigned; negative values are stored in
    two's complement.
    """
    lanes = np.asarray(lanes, dtype=np.int64)
    if lanes.ndim != 2:
        raise ValueError(f"pack_words wants a 2-D (words, lanes) array, got shape {lanes.shape}")
    lo, hi = -(1 << (bits - 1)), (1 << bits) - 1
    if lanes.size and (lanes.min() < lo or lanes.max() > hi):
        raise ValueError(
            f"values {lanes.min()}..{lanes.max()} do not fit {bits} bits (allowed {lo}..{hi})"
        )
    mask = (1 << bits) - 1
    out = []
    for row in lanes.tolist():
        w = 0
        for i, v in enumerate(row):
            w |= (v & mask) << (i * bits)
        out.append(w)
    return out


def unpack_words(words: Sequence[int], n_lanes: int, bits: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_words`: (len(words), n_lanes) int64 array."""
    mask = (1 << bits) - 1
    out = np.empty((len(words), n_lanes), dtype=np.int64)
    for r, w in enumerate(words):
        w = int(w)
        for i in range(n_lanes):
            v = (w >> (i * bits)) & mask
            if signed and v >> (bits - 1):
                v -= 1 << bits
            out[r, i] = v
    return out


def memh(words: Sequence[int], width: int) -> str:
    """``words`` as ``$readmemh`` text: one word of ``width`` bits per line, ceil(width/4) hex digits."""
    digits = max(1, (width + 3) // 4)
    return "".join(f"{int(w):0{digits}x}\n" for w in words)


def _check_fold(total: int, par: int, what: str) -> int:
    if par <= 0 or total % par:
        raise ValueError(f"{what}={par} does not divide {total}")
    return total // par


def weight_words(w: np.ndarray, pe: int, simd: int, bits: int) -> list[int]:
    """Weight ROM words of an MVAU (MH, MW) or VVAU (C, K2) matrix (see module docstring)."""
    w = np.asarray(w, dtype=np.int64)
    rows, cols = w.shape
    nf, sf = _check_fold(rows, pe, "PE"), _check_fold(cols, simd, "SIMD")
    return pack_words(weight_lanes(w, pe, simd).reshape(nf * sf, pe * simd), bits)


def threshold_words(t: np.ndarray, pe: int, acc_bits: int) -> list[int]:
    """Threshold ROM words for a (CH, N) array (see module docstring)."""
    t = np.asarray(t, dtype=np.int64)
    ch, n = t.shape
    nf = _check_fold(ch, pe, "PE")
    lo, hi = -(1 << (acc_bits - 1)), (1 << (acc_bits - 1)) - 1
    if t.size and (t.min() < lo or t.max() > hi):
        raise ValueError(
            f"thresholds {t.min()}..{t.max()} do not fit signed {acc_bits} bits; "
            "clip them with clip_thresholds() or widen ACC_BITS"
        )
    return pack_words(channel_lanes(t, pe).reshape(nf, pe * n), acc_bits)


def bias_words(b: np.ndarray, pe: int, acc_bits: int) -> list[int]:
    """Bias ROM words for (CH,) biases: word nf, lane p = b[nf*PE + p] (see mbdsl_mac_core)."""
    return threshold_words(np.asarray(b).reshape(-1, 1), pe, acc_bits)


def weight_memh(w: np.ndarray, pe: int, simd: int, bits: int) -> str:
    """The weight ROM file of an MVAU (MH, MW) or VVAU (C, K2) matrix: words of PE*SIMD lanes."""
    return memh(weight_words(w, pe, simd, bits), pe * simd * bits)


def threshold_memh(t: np.ndarray, pe: int, acc_bits: int) -> str:
    """The threshold ROM file of a (CH, N) array: words of PE*N lanes."""
    return memh(threshold_words(t, pe, acc_bits), pe * np.shape(t)[1] * acc_bits)


def bias_memh(b: np.ndarray, pe: int, acc_bits: int) -> str:
    """The bias ROM file of (CH,) biases: words of PE lanes."""
    return memh(bias_words(b, pe, acc_bits), pe * acc_bits)


LOAD_BEAT = 32
"""Bits of a weight-load stream beat (mbdsl_wload's input)."""


def load_beats(words: Sequence[Sequence[int]], widths: Sequence[int]) -> list[int]:
    """The weight-load stream of units with these weight words (one list per unit, in
    stream order) of these widths (see module docstring)."""
    beats = []
    mask = (1 << LOAD_BEAT) - 1
    for unit, width in zip(words, widths, strict=True):
        n = -(-width // LOAD_BEAT)
        for w in unit:
            beats += [(int(w) >> (LOAD_BEAT * b)) & mask for b in range(n)]
    return beats


def load_memh(words: Sequence[Sequence[int]], widths: Sequence[int]) -> str:
    """:func:`load_beats` as text, one beat a line."""
    return memh(load_beats(words, widths), LOAD_BEAT)


def write_weights(path: str | os.PathLike, w: np.ndarray, pe: int, simd: int, bits: int) -> None:
    Path(path).write_text(weight_memh(w, pe, simd, bits))


def write_thresholds(path: str | os.PathLike, t: np.ndarray, pe: int, acc_bits: int) -> None:
    Path(path).write_text(threshold_memh(t, pe, acc_bits))


def write_biases(path: str | os.PathLike, b: np.ndarray, pe: int, acc_bits: int) -> None:
    Path(path).write_text(bias_memh(b, pe, acc_bits))


def clip_thresholds(t: np.ndarray, acc_lo: int, acc_hi: int) -> np.ndarray:
    """Clip thresholds to [acc_lo, acc_hi + 1] without changing any activation.

    For accumulators in [acc_lo, acc_hi], ``acc >= T`` is always true for T <= acc_lo and
    never true for T > acc_hi, so this is exact; the result fits
    :func:`mbdsl.semantics.acc_bits` ``(acc_lo, acc_hi)``.
    """
    return np.clip(np.asarray(t, dtype=np.int64), acc_lo, acc_hi + 1)


def _signed_bits(lo: int, hi: int) -> int:
    """Signed width that holds every integer in [lo, hi]."""
    t = bits_for_range(lo, hi)
    return t.bits if t.signed else t.bits + 1


@attrs.frozen
class RequantWidths:
    """Widths of mbdsl_requant for one layer's constants (its BIAS_BITS, M0_BITS, PROD_BITS)."""

    bias_bits: int
    m0_bits: int
    prod_bits: int


def requant_widths(acc_lo: int, acc_hi: int, bias, m0, shift: int) -> RequantWidths:
    """The widths that make ``clip(round_shift((acc + bias) * m0, shift))`` exact in
    mbdsl_requant for accumulators in [acc_lo, acc_hi]: the bias range, m0's bits, and the
    largest |(acc + bias) * m0| + 2**(shift-1) over the channels (at least shift + 1 bits)."""
    b = np.atleast_1d(np.asarray(bias, dtype=np.int64))
    m = np.atleast_1d(np.asarray(m0, dtype=np.int64))
    if m.min() < 1:
        raise ValueError(f"m0 {int(m.min())} is not a positive multiplier")
    worst = np.maximum(np.abs(acc_lo + b), np.abs(acc_hi + b)) * m  # per channel (or broadcast)
    bound = int(worst.max()) + ((1 << (shift - 1)) if shift else 0)
    return RequantWidths(_signed_bits(int(b.min()), int(b.max())), int(m.max()).bit_length(),
                         max(_signed_bits(-bound, bound), shift + 1))


def requant_words(bias, m0, channels: int, pe: int, bias_bits: int, m0_bits: int) -> list[int]:
    """Requantization ROM words for ``channels`` channels (see module docstring); ``bias``
    and ``m0`` are one value or one per channel."""
    b = np.broadcast_to(np.asarray(bias, dtype=np.int64), (channels,))
    m = np.broadcast_to(np.asarray(m0, dtype=np.int64), (channels,))
    nf = _check_fold(channels, pe, "PE")
    if m.min() < 0 or m.max() >= 1 << m0_bits:
        raise ValueError(f"m0 {int(m.min())}..{int(m.max())} does not fit {m0_bits} unsigned bits")
    lanes = unpack_words(pack_words(b.reshape(-1, 1), bias_bits), 1, bias_bits, False).reshape(-1)
    return pack_words((lanes | (m << bias_bits)).reshape(nf, pe), bias_bits + m0_bits)


def tensor_to_beats(t: np.ndarray, elems: int, bits: int) -> list[int]:
    """Flatten ``t`` in C order and pack ``elems`` elements per beat (element 0 low)."""
    flat = np.asarray(t, dtype=np.int64).reshape(-1)
    if flat.size % elems:
        raise ValueError(f"{flat.size} elements are not a whole number of {elems}-element beats")
    return pack_words(flat.reshape(-1, elems), bits)


def beats_to_tensor(beats: Sequence[int], shape: Sequence[int], elems: int, bits: int,
                    signed: bool) -> np.ndarray:
    """Inverse of :func:`tensor_to_beats`."""
    return unpack_words(beats, elems, bits, signed).reshape(shape)


def window_beats(x: np.ndarray, k: int, stride: int, pad: int, cpar: int, kpar: int,
                 dw: bool) -> np.ndarray:
    """The element stream of the sliding-window generator, as (n_beats, kpar*cpar) values.

    For each output pixel (row-major), with positions kpos = kh*K + kw and channel groups
    cg of ``cpar`` channels: if ``dw`` is false, kernel-position groups (kpar positions)
    major and channel groups minor (kpar > 1 needs cpar == C); if true, channel groups
    major and kernel-position groups minor. Element ``kp*cpar + ch`` of a beat is channel
    ``cg*cpar + ch`` at position ``kpg*kpar + kp``. Zero padding.
    """
    x = np.asarray(x, dtype=np.int64)
    h, w, c = x.shape
    cf = _check_fold(c, cpar, "CPAR")
    kg = _check_fold(k * k, kpar, "KPAR")
    if not dw and kpar > 1 and cf != 1:
        raise ValueError("KPAR > 1 with DW=0 needs CPAR == C")
    xp = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
    oh, ow = window_out(h, k, stride, pad), window_out(w, k, stride, pad)
    s0, s1, s2 = xp.strides
    win = np.lib.stride_tricks.as_strided(
        xp, shape=(oh, ow, k, k, c), strides=(s0 * stride, s1 * stride, s0, s1, s2)
    )
    # (oh, ow, kg, kp, cf, ch)
    win = win.reshape(oh, ow, kg, kpar, cf, cpar)
    order = (0, 1, 4, 2, 3, 5) if dw else (0, 1, 2, 4, 3, 5)
    return np.ascontiguousarray(win.transpose(order)).reshape(-1, kpar * cpar)
