"""The integer semantics of every layer kind, defined once.

The reference network, the calibration and every backend's tests call these functions;
no other module re-implements layer arithmetic. Tensors are channels-last (H, W, C);
weights of dense convolutions are (O, KH, KW, I), of depthwise ones (C, KH, KW), of fully
connected ones (O, I). All results are exact integers (int64 arrays).
"""

from __future__ import annotations

import numpy as np

from .dtypes import IntType

__all__ = [
    "exact_matmul",
    "window_out",
    "conv2d",
    "dwconv2d",
    "fully_connected",
    "multithreshold",
    "round_shift",
    "requantize",
    "global_sum",
    "truncate_shift",
    "topk",
    "nv12_to_rgb",
    "rgb_to_nv12",
    "accumulator_range",
    "acc_bits",
]

_F32_EXACT = 1 << 24
_F64_EXACT = 1 << 53


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for integer matrices, exact, using BLAS where a float type is exact.

    Every partial sum is bounded by ``K * max|a| * max|b|``; float32 is exact below 2**24
    and float64 below 2**53, so the fastest exact type is chosen from that bound.
    """
    k = a.shape[-1]
    bound = k * _max_abs(a) * _max_abs(b)
    dtype = _exact_dtype(bound)
    if dtype is np.int64:
        return a.astype(np.int64) @ b.astype(np.int64)
    return np.rint(a.astype(dtype) @ b.astype(dtype)).astype(np.int64)


def _max_abs(a: np.ndarray) -> int:
    """max |a| as a Python int (np.abs wraps the most negative value of a signed dtype)."""
    if a.size == 0:
        return 0
    return max(-int(a.min()), int(a.max()))


def _pad(x: np.ndarray, pad: int, value: int = 0) -> np.ndarray:
    if pad == 0:
        return x
    return np.pad(x, ((pad, pad), (pad, pad), (0, 0)), constant_values=value)


def window_out(size: int, kernel: int, stride: int, pad: int) -> int:
    """Positions of a ``kernel`` window sliding by ``stride`` over ``size`` positions padded
    by ``pad`` on both sides: a convolution's output height or width."""
    return (size + 2 * pad - kernel) // stride + 1


def _windows(x: np.ndarray, k: int, stride: int) -> np.ndarray:
    """View of shape (OH, OW, K, K, C): every k x k window, kernel rows then columns."""
    h, w, c = x.shape
    oh, ow = window_out(h, k, stride, 0), window_out(w, k, stride, 0)
    s0, s1, s2 = x.strides
    return np.lib.stride_tricks.as_strided(
        x, shape=(oh, ow, k, k, c), strides=(s0 * stride, s1 * stride, s0, s1, s2), writeable=False
    )


def conv2d(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Dense convolution, zero padding: (H, W, I) x (O, K, K, I) -> accumulators (OH, OW, O).

    The reduction order of a window is (kernel row, kernel column, input channel): the
    order in which the sliding-window units stream it.
    """
    o, k, _, i = w.shape
    win = _windows(_pad(np.ascontiguousarray(x), pad), k, stride)
    oh, ow = win.shape[:2]
    cols = win.reshape(oh * ow, k * k * i)
    return exact_matmul(cols, w.reshape(o, k * k * i).T).reshape(oh, ow, o)


def _exact_dtype(bound: int):
    """The fastest type in which integer sums bounded by ``bound`` are exact."""
    return np.float32 if bound < _F32_EXACT else np.float64 if bound < _F64_EXACT else np.int64


def dwconv2d(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Depthwise convolution, zero padding: (H, W, C) x (C, K, K) -> accumulators (OH, OW, C).

    Summed as K*K shifted slices in the exact type for the bound ``K*K*max|x|*max|w|``.
    """
    c, k, _ = w.shape
    xp = _pad(np.ascontiguousarray(x), pad)
    h, wd, _ = xp.shape
    oh, ow = window_out(h, k, stride, 0), window_out(wd, k, stride, 0)
    dtype = _exact_dtype(k * k * _max_abs(xp) * _max_abs(w))
    xp, wf = xp.astype(dtype), w.astype(dtype)
    acc = np.zeros((oh, ow, c), dtype)
    for i in range(k):
        for j in range(k):
            acc += xp[i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride] * wf[:, i, j]
    return acc.astype(np.int64)


def fully_connected(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(I,) x (O, I) -> accumulators (O,)."""
    return exact_matmul(x.reshape(1, -1), w.T).reshape(-1)


def multithreshold(acc: np.ndarray, thresholds: np.ndarray, out: IntType) -> np.ndarray:
    """FPGA-style activation: ``out.min + #{i : acc >= T[c, i]}`` per channel c (last axis).

    ``thresholds`` has shape (C, out.levels - 1) and is sorted along its last axis.
    """
    acc, t = np.asarray(acc), np.asarray(thresholds)
    if acc.size and t.size:
        lo, hi = min(int(acc.min()), int(t.min())), max(int(acc.max()), int(t.max()))
        if -(1 << 31) <= lo and hi < (1 << 31):  # compare in int32: half the memory traffic
            acc, t = acc.astype(np.int32), t.astype(np.int32)
    count = np.zeros(acc.shape, np.int16)
    hit = np.empty(acc.shape, bool)
    for i in range(t.shape[1]):
        np.greater_equal(acc, t[:, i], out=hit)
        count += hit
    return count.astype(np.int64) + out.min


def round_shift(x: np.ndarray, shift: int) -> np.ndarray:
    """``x / 2**shift`` rounded half up (towards +inf), by an arithmetic shift."""
    x = np.asarray(x, dtype=np.int64)
    if shift == 0:
        return x
    return (x + (1 << (shift - 1))) >> shift


def requantize(acc: np.ndarray, bias: np.ndarray, m0, shift: int, out: IntType) -> np.ndarray:
    """GAP8-style activation: ``clip(round_shift((acc + bias) * m0, shift), out.min, out.max)``.

    ``bias`` is per channel (last axis); ``m0`` is one integer or one per channel.
    """
    scaled = (np.asarray(acc, dtype=np.int64) + bias) * np.asarray(m0, dtype=np.int64)
    return np.clip(round_shift(scaled, shift), out.min, out.max)


def global_sum(x: np.ndarray) -> np.ndarray:
    """(H, W, C) -> per-channel sums (C,)."""
    return x.astype(np.int64).sum(axis=(0, 1))


def truncate_shift(total: np.ndarray, shift: int, out: IntType) -> np.ndarray:
    """FPGA-style average: the sum with ``shift`` low bits dropped, clipped to ``out``."""
    return np.clip(np.asarray(total, dtype=np.int64) >> shift, out.min, out.max)


def topk(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values, largest first; ties go to the lower index."""
    return np.argsort(-np.asarray(values, dtype=np.int64), kind="stable")[:k].astype(np.int64)


def nv12_to_rgb(y: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """NV12 (Y plane (H, W), interleaved UV plane (H/2, W/2, 2)) -> RGB (H, W, 3) uint8.

    Integer BT.601 limited range (the usual 8-bit fixed-point form); each UV pair serves the
    2x2 block of Y samples it covers:
    ``R = (298 (Y-16) + 409 (V-128) + 128) >> 8``,
    ``G = (298 (Y-16) - 100 (U-128) - 208 (V-128) + 128) >> 8``,
    ``B = (298 (Y-16) + 516 (U-128) + 128) >> 8``, each clipped to 0..255.
    """
    yy = y.astype(np.int64) - 16
    up = np.repeat(np.repeat(uv.astype(np.int64) - 128, 2, axis=0), 2, axis=1)
    d, e = up[..., 0], up[..., 1]
    r = (298 * yy + 409 * e + 128) >> 8
    g = (298 * yy - 100 * d - 208 * e + 128) >> 8
    b = (298 * yy + 516 * d + 128) >> 8
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def rgb_to_nv12(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) uint8, H and W even -> a flat NV12 frame (H*W*3/2,) uint8.

    The inverse of :func:`nv12_to_rgb` (integer BT.601 limited range, as a camera ISP such
    as the RDK X5's writes it): per pixel
    ``Y = ((66 R + 129 G + 25 B + 128) >> 8) + 16``,
    ``U = ((-38 R - 74 G + 112 B + 128) >> 8) + 128``,
    ``V = ((112 R - 94 G - 18 B + 128) >> 8) + 128``;
    U and V of each 2x2 block are the rounded mean of its four pixels' values.
    """
    x = np.asarray(rgb).astype(np.int64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
    u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
    v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
    h, w = y.shape

    def block_mean(c: np.ndarray) -> np.ndarray:
        return (c.reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3)) + 2) >> 2

    uv = np.stack([block_mean(u), block_mean(v)], axis=-1)
    return np.concatenate([y.reshape(-1), uv.reshape(-1)]).astype(np.uint8)


def accumulator_range(fan_in: int, wtype: IntType, xtype: IntType) -> tuple[int, int]:
    """Worst-case [lo, hi] of a sum of ``fan_in`` products of a weight and an input."""
    products = [a * b for a in (wtype.min, wtype.max) for b in (xtype.min, xtype.max)]
    return fan_in * min(products), fan_in * max(products)


def acc_bits(acc_lo: int, acc_hi: int) -> int:
    """Signed width that holds every accumulator in [acc_lo, acc_hi] and acc_hi + 1.

    Thresholds are stored and compared at this width: a threshold above ``acc_hi`` is
    never reached and one at or below ``acc_lo`` always is, so clipping every threshold to
    [acc_lo, acc_hi + 1] changes no activation (:func:`multithreshold`).
    """
    b = 1
    while -(1 << (b - 1)) > acc_lo or (1 << (b - 1)) - 1 < acc_hi + 1:
        b += 1
    return b
