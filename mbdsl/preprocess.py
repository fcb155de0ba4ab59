"""Folding float preprocessing, BatchNorm and quantized ReLU into integer thresholds.

A float model computes, for output channel c of a layer whose integer accumulator is
``acc`` (integer weights times integer inputs),

    v = acc_scale[c] * acc + acc_offset[c]          # the layer's float output
    y = a[c] * v + b[c]                             # BatchNorm (and bias), folded
    code = clip(R(y / step), out.min, out.max)      # quantized (ReLU) activation

with R a rounding rule. ``code`` is a monotone function of the integer ``acc``, so it
equals ``multithreshold(acc, T)`` for the thresholds ``T[c, k] = min{acc : code >= out.min
+ k + 1}``; :func:`fold_thresholds` finds each one by binary search over the accumulator
range, evaluating the float formula above (in float64) at integers. The integer network
then gives the codes of the float one wherever ``y / step`` is not within float rounding of
a rounding boundary (a tie): it is exact up to ties. A channel whose slope
``acc_scale * a`` is negative has its weights negated (``negate``), since thresholds count
upwards.

For the first layer, :func:`preprocess_affine` gives ``acc_scale`` and ``acc_offset`` of a
convolution on raw pixels from the float preprocessing ``(pixel * scale - mean[i]) / std``:
exact when the convolution has no padding (or the mean is zero), because a zero-padded raw
pixel is not the float model's zero-padded normalized value. :func:`fold_first_layer`
chains the two. The QONNX importer uses the same functions on every layer.
"""

from __future__ import annotations

import attrs
import numpy as np

from .dtypes import UINT8, IntType, bits_for_range
from .ir import Preprocess
from .semantics import accumulator_range

__all__ = [
    "ROUNDING",
    "quantize",
    "preprocess_affine",
    "Folded",
    "fold_thresholds",
    "fold_first_layer",
]

ROUNDING = ("half_even", "half_up", "floor")
"""Rounding rules of the float quantizer: ``half_even`` is torch.round / Brevitas."""


def quantize(y: np.ndarray, step, out: IntType, rounding: str = "half_even") -> np.ndarray:
    """The float quantizer: ``clip(R(y / step), out.min, out.max)`` as int64 codes."""
    q = np.asarray(y, dtype=np.float64) / step
    if rounding == "half_even":
        r = np.rint(q)
    elif rounding == "half_up":
        r = np.floor(q + 0.5)
    elif rounding == "floor":
        r = np.floor(q)
    else:
        raise ValueError(f"rounding must be one of {ROUNDING}, got {rounding!r}")
    return np.clip(r, out.min, out.max).astype(np.int64)


def _per_channel(values, n: int, what: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if v.size == 1:
        return np.full(n, v[0])
    if v.size != n:
        raise ValueError(f"{what} has {v.size} values; expected 1 or {n}")
    return v


def preprocess_affine(
    weights: np.ndarray, w_scale, pre: Preprocess, pad: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``(acc_scale, acc_offset)``, per output channel, of a conv on raw pixels.

    The float layer is ``conv((pixel * pre.scale - mean[i]) / std, weights * w_scale[o])``
    with integer ``weights`` (O, K, K, I); on the raw-pixel integer accumulator ``acc`` it
    equals ``acc_scale * acc + acc_offset`` with
    ``acc_scale[o] = w_scale[o] * scale / std`` and
    ``acc_offset[o] = -w_scale[o] / std * sum_{k, i} weights[o, k, i] * mean[i]``.

    Raises ValueError where no such form exists: a per-channel std (it scales the weights
    of each input channel differently: fold it into the float weights before quantizing
    them), or padding with a non-zero mean (a raw 0 pixel is not the float model's 0).
    """
    o, _, _, i = weights.shape
    std = np.asarray(pre.std, dtype=np.float64).reshape(-1)
    if std.size > 1 and not np.all(std == std[0]):
        raise ValueError(
            f"std {tuple(pre.std)} differs between input channels: the preprocessing is then no "
            "affine function of the integer accumulator; fold 1/std[c] into the float weights "
            "before quantizing them, or use one std"
        )
    mean = _per_channel(pre.mean, i, "mean")
    if pad and np.any(mean != 0):
        raise ValueError(
            f"padding {pad} with mean {tuple(pre.mean)}: the hardware pads raw pixels with 0, the "
            "float model pads normalized values with 0, so border outputs would differ; "
            "use pad 0 on the first layer (as FINN does) or a zero mean"
        )
    ws = _per_channel(w_scale, o, "w_scale")
    s = float(std[0])
    w = np.asarray(weights, dtype=np.float64)
    acc_scale = ws * pre.scale / s
    acc_offset = -ws / s * np.einsum("okji,i->o", w, mean)
    return acc_scale, acc_offset


@attrs.frozen(eq=False)
class Folded:
    """Thresholds (C, levels - 1) int64 and which channels' weights must be negated;
    ``weights`` is set (negated rows applied) when the fold was given the weights."""

    thresholds: np.ndarray
    negate: np.ndarray
    weights: np.ndarray | None = None


def fold_thresholds(
    acc_scale,
    acc_offset,
    out: IntType,
    acc_range: tuple[int, int],
    *,
    a=1.0,
    b=0.0,
    step: float = 1.0,
    acc_type: IntType | None = None,
    rounding: str = "half_even",
) -> Folded:
    """Thresholds on an integer accumulator equivalent to the float activation above.

    ``acc_scale``, ``acc_offset``, ``a``, ``b`` are per channel (or one value);
    ``acc_range`` is the accumulator's worst-case [lo, hi] (a negated channel's accumulator
    lies in it too). ``T[c, k]`` is the least accumulator in [lo, hi] whose code reaches
    ``out.min + k + 1``, or ``hi + 1`` if none does (clipped to ``acc_type``, default the
    narrowest type holding [lo, hi]; only if ``hi`` is that type's maximum does this clip
    matter, and then only at ``acc == hi``). Rows are sorted.
    """
    lo, hi = int(acc_range[0]), int(acc_range[1])
    if acc_type is None:
        acc_type = bits_for_range(lo, hi)
    c = np.broadcast(np.asarray(acc_scale), np.asarray(acc_offset), np.asarray(a), np.asarray(b)).size
    s = _per_channel(acc_scale, c, "acc_scale")[:, None]
    o = _per_channel(acc_offset, c, "acc_offset")[:, None]
    aa = _per_channel(a, c, "a")[:, None]
    bb = _per_channel(b, c, "b")[:, None]
    negate = (s * aa)[:, 0] < 0
    sign = np.where(negate, -1.0, 1.0)[:, None]

    def code(acc: np.ndarray) -> np.ndarray:
        # The float formula at the integer (sign * acc): non-decreasing in acc, since
        # every float operation is monotone and the slope's sign is now positive.
        v = s * (sign * acc.astype(np.float64)) + o
        return quantize(aa * v + bb, step, out, rounding)

    target = out.min + np.arange(1, out.levels)[None, :]
    left = np.full((c, out.levels - 1), lo, dtype=np.int64)
    right = np.full((c, out.levels - 1), hi + 1, dtype=np.int64)
    while np.any(active := left < right):
        mid = (left + right) // 2
        reached = code(mid) >= target
        right = np.where(active & reached, mid, right)
        left = np.where(active & ~reached, mid + 1, left)
    thresholds = np.clip(left, acc_type.min, acc_type.max)
    return Folded(thresholds=thresholds, negate=negate)


def fold_first_layer(
    weights: np.ndarray,
    w_scale,
    pre: Preprocess,
    out: IntType,
    *,
    pad: int = 0,
    a=1.0,
    b=0.0,
    step: float = 1.0,
    weight_type: IntType,
    in_type: IntType = UINT8,
    acc_type: IntType | None = None,
    rounding: str = "half_even",
) -> Folded:
    """Preprocessing, float conv scale, BatchNorm and quantized ReLU of a first conv on
    raw pixels, folded into thresholds; the returned ``weights`` have the rows of
    ``negate`` channels negated (raises ValueError if a negated weight leaves
    ``weight_type``, e.g. -128 in a full-range int8 channel)."""
    weights = np.asarray(weights, dtype=np.int64)
    acc_scale, acc_offset = preprocess_affine(weights, w_scale, pre, pad)
    fan_in = int(np.prod(weights.shape[1:]))
    rng = accumulator_range(fan_in, weight_type, in_type)
    folded = fold_thresholds(
        acc_scale, acc_offset, out, rng, a=a, b=b, step=step, acc_type=acc_type, rounding=rounding
    )
    w = weights.copy()
    w[folded.negate] *= -1
    if not weight_type.allowed(w):
        bad = sorted(set(np.nonzero((w < weight_type.min) | (w > weight_type.max))[0].tolist()))
        raise ValueError(
            f"channels {bad} have a negative slope and must be negated, but their weights then "
            f"leave {weight_type}; use a narrow-range weight type"
        )
    return attrs.evolve(folded, weights=w)
