"""Every function of mbdsl.semantics against plain Python loops on small random layers.

The loops use Python integers (and Fractions for rounding), so they share no numpy code
path with the functions they check.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from mbdsl import semantics as S
from mbdsl.dtypes import IntType

UINT4 = IntType(4, False)
INT4 = IntType(4, True)
INT4N = IntType(4, True, narrow=True)
UINT7 = IntType(7, False)
INT8 = IntType(8, True)


def rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------
# plain-loop models


def loop_conv(x, w, stride, pad):
    h, wd, ci = x.shape
    o, k, _, _ = w.shape
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = [[[0] * o for _ in range(ow)] for _ in range(oh)]
    for y in range(oh):
        for xx in range(ow):
            for oc in range(o):
                s = 0
                for i in range(k):
                    for j in range(k):
                        r, c = y * stride + i - pad, xx * stride + j - pad
                        if 0 <= r < h and 0 <= c < wd:
                            for ic in range(ci):
                                s += int(x[r, c, ic]) * int(w[oc, i, j, ic])
                out[y][xx][oc] = s
    return out


def loop_dw(x, w, stride, pad):
    h, wd, ch = x.shape
    k = w.shape[1]
    oh, ow = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = [[[0] * ch for _ in range(ow)] for _ in range(oh)]
    for y in range(oh):
        for xx in range(ow):
            for c in range(ch):
                s = 0
                for i in range(k):
                    for j in range(k):
                        r, cc = y * stride + i - pad, xx * stride + j - pad
                        if 0 <= r < h and 0 <= cc < wd:
                            s += int(x[r, cc, c]) * int(w[c, i, j])
                out[y][xx][c] = s
    return out


def half_up(fr: Fraction) -> int:
    return math.floor(fr + Fraction(1, 2))


# ---------------------------------------------------------------------------------------
# MAC layers


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("pad", [0, 1])
def test_conv2d_matches_loops(k, stride, pad):
    r = rng(100 * k + 10 * stride + pad)
    x = r.integers(0, 16, (7, 6, 5))
    w = r.integers(-7, 8, (4, k, k, 5))
    got = S.conv2d(x, w, stride, pad)
    assert got.dtype == np.int64
    assert got.tolist() == loop_conv(x, w, stride, pad)


def test_conv2d_raw_pixels_int8_weights():
    r = rng(1)
    x = r.integers(0, 256, (9, 9, 3)).astype(np.uint8)
    w = r.integers(-127, 128, (6, 3, 3, 3))
    assert S.conv2d(x, w, 2, 0).tolist() == loop_conv(x, w, 2, 0)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("pad", [0, 1])
def test_dwconv2d_matches_loops(stride, pad):
    r = rng(20 + stride + pad)
    x = r.integers(0, 128, (8, 7, 6))
    w = r.integers(-128, 128, (6, 3, 3))
    got = S.dwconv2d(x, w, stride, pad)
    assert got.tolist() == loop_dw(x, w, stride, pad)


def test_fully_connected_matches_loops():
    r = rng(3)
    x = r.integers(-8, 8, (2, 2, 5))  # flattened channels-last, as the reference does
    w = r.integers(-7, 8, (9, 20))
    flat = [int(v) for v in x.reshape(-1)]
    want = [sum(flat[i] * int(w[o, i]) for i in range(20)) for o in range(9)]
    assert S.fully_connected(x, w).tolist() == want


# ---------------------------------------------------------------------------------------
# exact_matmul: float32, float64 and int64 regimes


def loop_matmul(a, b):
    return [[sum(int(a[i, t]) * int(b[t, j]) for t in range(a.shape[1])) for j in range(b.shape[1])]
            for i in range(a.shape[0])]


def test_exact_matmul_float32_regime():
    r = rng(4)
    a = r.integers(0, 256, (5, 64))
    b = r.integers(-128, 128, (64, 3))
    assert 64 * 255 * 128 < 1 << 24
    assert S.exact_matmul(a, b).tolist() == loop_matmul(a, b)


def test_exact_matmul_float64_regime():
    # 2**24 + 1 is not a float32: a float32 product would return 2**24.
    a = np.array([[(1 << 24) + 1, 3]])
    b = np.array([[1], [1]])
    assert S.exact_matmul(a, b).tolist() == [[(1 << 24) + 4]]
    r = rng(5)
    a = r.integers(-(1 << 20), 1 << 20, (4, 50)) | 1
    b = r.integers(-(1 << 20), 1 << 20, (50, 3)) | 1
    assert S.exact_matmul(a, b).tolist() == loop_matmul(a, b)


def test_exact_matmul_int64_regime():
    a = np.array([[(1 << 53) + 1, 1]])
    b = np.array([[1], [2]])
    assert S.exact_matmul(a, b).tolist() == [[(1 << 53) + 3]]
    r = rng(6)
    a = r.integers(-(1 << 28), 1 << 28, (3, 30)) | 1
    b = r.integers(-(1 << 28), 1 << 28, (30, 2)) | 1
    assert S.exact_matmul(a, b).tolist() == loop_matmul(a, b)


def test_exact_matmul_int8_minimum():
    a = np.full((1, 4095), -128, dtype=np.int8)
    b = np.full((4095, 1), (1 << 15) + 1, dtype=np.int64)
    # -128 * 32769 * 4095: 27 significant bits, no float32
    assert S.exact_matmul(a, b).tolist() == [[-128 * 32769 * 4095]]


# ---------------------------------------------------------------------------------------
# activations


@pytest.mark.parametrize("out", [UINT4, INT4, IntType(2, False)])
def test_multithreshold_matches_loops(out):
    r = rng(out.bits + out.signed)
    c = 5
    t = np.sort(r.integers(-50, 50, (c, out.levels - 1)), axis=1)
    t[0] = 7  # equal thresholds: a channel that jumps several codes at once
    acc = r.integers(-60, 60, (4, 3, c))
    acc[0, 0, 0] = 7  # exactly on a threshold counts as reached
    got = S.multithreshold(acc, t, out)
    for idx in np.ndindex(acc.shape):
        ch = idx[-1]
        want = out.min + sum(1 for v in t[ch] if int(acc[idx]) >= int(v))
        assert got[idx] == want
    assert got.min() >= out.min and got.max() <= out.max
    assert got[0, 0, 0] == out.max


def test_round_shift_ties_and_negatives():
    xs = list(range(-70, 71)) + [-(1 << 40) - 3, (1 << 40) + 5]
    for shift in range(0, 7):
        got = S.round_shift(np.array(xs), shift).tolist()
        assert got == [half_up(Fraction(x, 1 << shift)) for x in xs]
    # ties go towards +inf: -1.5 -> -1, -2.5 -> -2, 2.5 -> 3
    assert S.round_shift(np.array([-3, -5, 5]), 1).tolist() == [-1, -2, 3]


@pytest.mark.parametrize("per_channel", [False, True])
def test_requantize_matches_loops(per_channel):
    r = rng(8 + per_channel)
    c = 4
    acc = r.integers(-5000, 5000, (6, c))
    acc[0, :] = [-16, 48, 16, 80]  # with bias 0 and m0/2^shift = 1/32: -0.5, 1.5, 0.5, 2.5
    bias = r.integers(-300, 300, c)
    bias[:] = np.where(np.arange(c) < 4, bias, 0)
    m0 = r.integers(1, 2000, c) if per_channel else 1234
    shift = 17
    got = S.requantize(acc, bias, m0, shift, UINT7)
    for i in range(acc.shape[0]):
        for ch in range(c):
            m = int(m0[ch]) if per_channel else m0
            v = half_up(Fraction((int(acc[i, ch]) + int(bias[ch])) * m, 1 << shift))
            assert got[i, ch] == min(max(v, 0), 127)
    ties = S.requantize(np.array([-16, 48, 16, 80]), np.zeros(4, np.int64), 1, 5, INT8)
    assert ties.tolist() == [0, 2, 1, 3]  # -0.5 -> 0, 1.5 -> 2, 0.5 -> 1, 2.5 -> 3


def test_global_sum_and_truncate_shift():
    r = rng(9)
    x = r.integers(-8, 8, (5, 4, 3))
    sums = S.global_sum(x)
    assert sums.tolist() == [sum(int(x[i, j, c]) for i in range(5) for j in range(4)) for c in range(3)]
    for shift in range(0, 6):
        got = S.truncate_shift(sums, shift, INT4)
        # dropping low bits floors (also for negative sums), then clips to the type
        assert got.tolist() == [min(max(math.floor(Fraction(int(s), 1 << shift)), -8), 7) for s in sums]
    assert S.truncate_shift(np.array([-1, -33, 735]), 6, UINT4).tolist() == [0, 0, 11]


def test_topk_ties_to_lower_index():
    v = np.array([3, 9, -2, 9, 3, 9, 0])
    assert S.topk(v, 4).tolist() == [1, 3, 5, 0]
    r = rng(10)
    for _ in range(20):
        vals = r.integers(-3, 3, 12)
        want = sorted(range(12), key=lambda i: (-int(vals[i]), i))[:5]
        assert S.topk(vals, 5).tolist() == want


def test_nv12_to_rgb_matches_formula():
    r = rng(11)
    h, w = 4, 6
    y = r.integers(0, 256, (h, w)).astype(np.uint8)
    uv = r.integers(0, 256, (h // 2, w // 2, 2)).astype(np.uint8)
    y[0, 0], uv[0, 0] = 255, (0, 255)  # saturates
    y[1, 1] = 0
    got = S.nv12_to_rgb(y, uv)
    assert got.dtype == np.uint8 and got.shape == (h, w, 3)
    clip = lambda v: min(max(v, 0), 255)  # noqa: E731
    for i in range(h):
        for j in range(w):
            c = int(y[i, j]) - 16
            d, e = int(uv[i // 2, j // 2, 0]) - 128, int(uv[i // 2, j // 2, 1]) - 128
            want = [
                clip((298 * c + 409 * e + 128) >> 8),
                clip((298 * c - 100 * d - 208 * e + 128) >> 8),
                clip((298 * c + 516 * d + 128) >> 8),
            ]
            assert got[i, j].tolist() == want
    grey = S.nv12_to_rgb(np.full((2, 2), 126, np.uint8), np.full((1, 1, 2), 128, np.uint8))
    assert grey.tolist() == [[[128] * 3] * 2] * 2  # (298*110 + 128) >> 8 = 128


def test_accumulator_range_is_worst_case():
    for wt, xt, n in [(INT4N, UINT4, 9), (INT8, IntType(8, False), 27), (INT4, INT4, 5)]:
        lo, hi = S.accumulator_range(n, wt, xt)
        prods = [a * b for a in range(wt.min, wt.max + 1) for b in range(xt.min, xt.max + 1)]
        assert (lo, hi) == (n * min(prods), n * max(prods))
