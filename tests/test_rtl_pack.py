"""Pure-numpy checks of the ROM and stream formats in mbdsl.backends.rtl.pack."""

import numpy as np
import pytest

from mbdsl import semantics
from mbdsl.backends.rtl import pack
from mbdsl.dtypes import IntType


def test_pack_words_lane0_low_and_twos_complement():
    assert pack.pack_words(np.array([[1, 2, 3]]), 4) == [0x321]
    assert pack.pack_words(np.array([[-1, 0]]), 4) == [0x0F]
    lanes = np.array([[-8, 7, 0, -1], [3, -2, 5, -7]])
    words = pack.pack_words(lanes, 4)
    assert (pack.unpack_words(words, 4, 4, signed=True) == lanes).all()
    with pytest.raises(ValueError, match="do not fit 4 bits"):
        pack.pack_words(np.array([[16]]), 4)


def test_tensor_beats_roundtrip():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 16, size=(3, 4, 6))
    beats = pack.tensor_to_beats(x, 3, 4)
    assert len(beats) == 24
    assert beats[0] == x[0, 0, 0] | (x[0, 0, 1] << 4) | (x[0, 0, 2] << 8)
    assert (pack.beats_to_tensor(beats, x.shape, 3, 4, signed=False) == x).all()


def test_mvau_weight_layout():
    mh, mw, pe, simd, bits = 4, 6, 2, 3, 4
    w = np.arange(mh * mw).reshape(mh, mw) % 8 - 4
    words = pack.weight_words(w, pe, simd, bits)
    sf = mw // simd
    lanes = pack.unpack_words(words, pe * simd, bits, signed=True)
    for nf in range(mh // pe):
        for s_f in range(sf):
            for p in range(pe):
                for s in range(simd):
                    assert lanes[nf * sf + s_f, p * simd + s] == w[nf * pe + p, s_f * simd + s]


def test_vvau_weight_and_threshold_layout():
    c, k2, pe, simd = 4, 9, 2, 3
    w = (np.arange(c * k2).reshape(c, k2) % 15) - 7
    lanes = pack.unpack_words(pack.weight_words(w, pe, simd, 4), pe * simd, 4, True)
    kgn = k2 // simd
    for g in range(c // pe):
        for kg in range(kgn):
            for p in range(pe):
                for s in range(simd):
                    assert lanes[g * kgn + kg, p * simd + s] == w[g * pe + p, kg * simd + s]
    t = np.array([[-5, 0, 9], [1, 2, 3], [-100, 50, 60], [7, 8, 9]])
    tl = pack.unpack_words(pack.threshold_words(t, 2, 8), 2 * 3, 8, True)
    assert (tl.reshape(4, 3) == t).all()
    with pytest.raises(ValueError, match="clip_thresholds"):
        pack.threshold_words(t, 2, 6)


def test_clip_thresholds_is_exact():
    rng = np.random.default_rng(1)
    acc = rng.integers(-50, 51, size=(200, 3))
    t = np.sort(rng.integers(-200, 200, size=(3, 7)), axis=1)
    ot = IntType(3, False)
    tc = pack.clip_thresholds(t, -50, 50)
    assert tc.min() >= -50 and tc.max() <= 51
    assert (semantics.multithreshold(acc, t, ot) == semantics.multithreshold(acc, tc, ot)).all()
    b = semantics.acc_bits(-50, 50)
    assert -(1 << (b - 1)) <= -50 and 51 <= (1 << (b - 1)) - 1


@pytest.mark.parametrize("k,stride,pad", [(3, 1, 1), (3, 2, 0), (1, 1, 0), (5, 2, 2)])
def test_window_beats_reproduce_semantics(k, stride, pad):
    rng = np.random.default_rng(k + stride)
    x = rng.integers(0, 16, size=(7, 6, 4))
    w = rng.integers(-7, 8, size=(5, k, k, 4))
    # dense order (DW=0): each window is one (kh, kw, cin) vector
    win = pack.window_beats(x, k, stride, pad, 4, 1, False).reshape(-1, k * k * 4)
    acc = win @ w.reshape(5, -1).T
    ref = semantics.conv2d(x, w, stride, pad)
    assert (acc.reshape(ref.shape) == ref).all()
    # depthwise order (DW=1), CPAR=2, KPAR=k: (cg, kpg, kp, ch)
    wd = rng.integers(-7, 8, size=(4, k, k))
    dwin = pack.window_beats(x, k, stride, pad, 2, k, True)
    n_pix = dwin.shape[0] // (2 * k)
    v = dwin.reshape(n_pix, 2, k, k, 2)  # pixel, cg, kpg, kp, ch
    vals = v.transpose(0, 1, 4, 2, 3).reshape(n_pix, 4, k * k)  # pixel, channel, kpos
    dacc = (vals * wd.reshape(4, k * k)).sum(-1)
    dref = semantics.dwconv2d(x, wd, stride, pad)
    assert (dacc.reshape(dref.shape) == dref).all()
