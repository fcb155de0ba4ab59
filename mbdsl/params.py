"""Weights and quantization parameters of a checked network.

:func:`make_params` gives every layer its integer parameters: seeded random weights with
activations calibrated on sample images (so that codes are spread, not all 0), or the
arrays of an ``.npz`` file, validated against the network (layout in ``docs/weights.md``).

Per layer kind and quantization style (:class:`LayerParams` fields):

=====================  ==========================  ==================================
layer                  thresholds style            multiplier style
=====================  ==========================  ==================================
conv / dwconv / fc     weights, thresholds         weights, bias, m0, shift
final fc (no act)      weights (bias if declared)  weights, bias
avgpool                shift                       m0, shift
topk                   (nothing)                   (nothing)
=====================  ==========================  ==================================
"""

from __future__ import annotations

import math
import os
import zipfile
from typing import Iterator, Mapping

import attrs
import numpy as np

from . import ir, reference
from .dtypes import IntType
from .errors import MemoryBudgetError, QuantError, WeightFileError
from .files import MAX_WEIGHT_BYTES, open_regular

__all__ = [
    "LayerParams",
    "Params",
    "make_params",
    "random_params",
    "random_weights",
    "sample_images",
    "calibration_count",
    "choose_multiplier",
    "expected_keys",
    "load_npz",
    "save_npz",
    "activation_histograms",
    "concentrated_layers",
    "summary",
    "INT32_LIMIT",
]

INT32_LIMIT = (1 << 31) - 1
"""Largest value a 32-bit C implementation of requantization may meet."""

_FIELDS = ("weights", "thresholds", "bias", "m0", "shift")


@attrs.frozen(eq=False)
class LayerParams:
    """The integer parameters of one layer (None where the layer has no such parameter).

    ``weights``: conv (O, K, K, I), dwconv (C, K, K), fc (O, I), int64.
    ``thresholds``: (C, levels - 1) int64, sorted along each row.
    ``bias``: (C,) int64. ``m0``: int, or (C,) int64 for per-channel multipliers.
    ``shift``: int.
    """

    weights: np.ndarray | None = None
    thresholds: np.ndarray | None = None
    bias: np.ndarray | None = None
    m0: int | np.ndarray | None = None
    shift: int | None = None

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields that are set, as arrays (the npz layout's suffixes)."""
        return {f: np.asarray(getattr(self, f)) for f in _FIELDS if getattr(self, f) is not None}

    def equals(self, other: LayerParams) -> bool:
        a, b = self.arrays(), other.arrays()
        return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


@attrs.frozen(eq=False)
class Params(Mapping[str, LayerParams]):
    """Layer name -> :class:`LayerParams`, in layer order."""

    layers: dict[str, LayerParams]

    def __getitem__(self, name: str) -> LayerParams:
        return self.layers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def equals(self, other: Params) -> bool:
        return self.layers.keys() == other.layers.keys() and all(
            self[k].equals(other[k]) for k in self.layers
        )


# --------------------------------------------------------------------------------------
# Random weights and calibration


def _weight_shape(layer: ir.MacLayer) -> tuple[int, ...]:
    if isinstance(layer, ir.Conv):
        return (layer.out_channels, layer.kernel, layer.kernel, layer.in_shape.c)
    if isinstance(layer, ir.DwConv):
        return (layer.in_shape.c, layer.kernel, layer.kernel)
    return (layer.out_channels, layer.in_shape.size)


def _channels(layer: ir.Layer) -> int:
    return layer.out_shape.c


def _seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed % (1 << 64), spawn_key=key)


def sample_images(net: ir.Network, n: int, seed: int = 0) -> np.ndarray:
    """``n`` seeded random images in the network's input format.

    ``u8``: (n, H, W, C) uint8, uniform; ``nv12``: (n, H*W*3/2) uint8 random frames.
    """
    rng = np.random.default_rng(_seed_sequence(seed, 1))
    s = net.input.shape
    if net.input.format == "nv12":
        return rng.integers(0, 256, size=(n, s.h * s.w * 3 // 2), dtype=np.uint8)
    return rng.integers(0, 256, size=(n, s.h, s.w, s.c), dtype=np.uint8)


def random_weights(layer: ir.MacLayer, seed: int, index: int) -> np.ndarray:
    """Uniform integers over the layer's weight type (narrow range honoured), int64.

    Drawn from a generator keyed by (seed, layer index): a layer's weights do not change
    when another layer is edited.
    """
    rng = np.random.default_rng(_seed_sequence(seed, 0, index))
    wt = layer.weight_type
    return rng.integers(wt.min, wt.max + 1, size=_weight_shape(layer), dtype=np.int64)


def _calibrate_thresholds(acc: np.ndarray, out: IntType, acc_type: IntType) -> np.ndarray:
    """Per-channel thresholds at the quantiles i/levels of the channel's accumulators."""
    c = acc.shape[-1]
    flat = acc.reshape(-1, c)
    qs = np.arange(1, out.levels) / out.levels
    t = np.ceil(np.quantile(flat, qs, axis=0)).T  # (C, levels-1), sorted: quantiles are monotone
    return np.clip(t, acc_type.min, acc_type.max).astype(np.int64)


def choose_multiplier(scale: float, worst: int, max_shift: int = 31) -> tuple[int, int]:
    """``(m0, shift)`` with ``m0 / 2**shift`` close to ``scale`` and m0 as large as possible.

    Subject to ``worst * m0 + 2**(shift-1) <= 2**31 - 1``, where ``worst`` bounds
    ``|acc + bias|``: the product and the rounding constant of ``round_shift`` then fit a
    32-bit signed integer, so a C implementation in int32 is exact. Raises ValueError if
    even ``m0 = 1`` overflows.
    """
    if scale <= 0 or not math.isfinite(scale):
        raise ValueError(f"scale must be positive and finite, got {scale}")
    worst = max(int(worst), 1)
    for shift in range(max_shift, -1, -1):
        m0 = round(scale * (1 << shift))
        rnd = (1 << (shift - 1)) if shift else 0
        if m0 >= 1 and worst * m0 + rnd <= INT32_LIMIT:
            return m0, shift
    raise ValueError(f"no multiplier m0 >= 1 keeps {worst} * m0 inside 32 bits (scale {scale})")


def _worst_abs(acc_type: IntType, bias) -> int:
    """max |acc + bias| over the accumulator type's range and every channel's bias."""
    bias = np.atleast_1d(np.asarray(bias, dtype=np.int64))
    return int(max(np.abs(acc_type.min + bias).max(), np.abs(acc_type.max + bias).max()))


def _calibrate_multiplier(layer: ir.MacLayer, acc: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Bias per channel (5% of outputs at 0), one m0/shift mapping the 99th percentile to max."""
    out = layer.act_type
    flat = acc.reshape(-1, acc.shape[-1])
    bias = -np.round(np.quantile(flat, 0.05, axis=0)).astype(np.int64)
    hi = float(np.quantile(flat + bias, 0.99))
    scale = out.max / hi if hi > 0 else 1.0
    try:
        m0, shift = choose_multiplier(scale, _worst_abs(layer.acc_type, bias))
    except ValueError as e:
        raise QuantError(
            f"layer {layer.name!r}: accumulator type {layer.acc_type} is too wide for a 32-bit requantization",
            span=layer.span,
            hint="narrow the weights or activations, or reduce the fan-in",
        ) from e
    return bias, m0, shift


def _pool_params(net: ir.Network, layer: ir.AvgPool) -> LayerParams:
    """Average pool parameters: the model's shift (thresholds style), or m0/shift
    approximating 1/(H*W) (multiplier style)."""
    n = layer.in_shape.h * layer.in_shape.w
    if net.quant_style != ir.MULTIPLIER:
        shift = layer.shift if layer.shift is not None else layer.default_shift
        return LayerParams(shift=shift)
    t = layer.in_type
    worst = n * max(abs(t.min), abs(t.max))
    m0, shift = choose_multiplier(1.0 / n, worst)
    return LayerParams(m0=m0, shift=shift)


def calibration_count(net: ir.Network) -> int:
    """Default number of calibration images: as many pixels as four 224x224 images, 4 to 64
    images. The layers after a global pool see one sample per channel and image, so small
    networks are calibrated on many images."""
    return max(4, min(64, 4 * 224 * 224 // (net.input.shape.h * net.input.shape.w)))


def random_params(net: ir.Network, images=None, n_images: int | None = None) -> Params:
    """Seeded random weights, activations calibrated on ``images`` (default: ``n_images``
    seeded random ones, :func:`calibration_count` if None), layer by layer through the
    reference."""
    seed = net.weights.seed
    if images is None:
        images = sample_images(net, n_images or calibration_count(net), seed)
    xs = reference.prepare_inputs(net, images)
    layers: dict[str, LayerParams] = {}
    for index, layer in enumerate(net.layers):
        if isinstance(layer, ir.TopK):
            layers[layer.name] = LayerParams()
            continue
        if isinstance(layer, ir.AvgPool):
            lp = _pool_params(net, layer)
        else:
            w = random_weights(layer, seed, index)
            acc = reference.accumulate(layer, LayerParams(weights=w), xs)
            if layer.act_type is None:
                bias = None
                if net.quant_style == ir.MULTIPLIER or layer.bias_type is not None:
                    # Centre every logit: with random weights, no class wins every image.
                    bias = -np.round(np.median(acc.reshape(-1, acc.shape[-1]), axis=0)).astype(np.int64)
                    if layer.bias_type is not None:
                        bias = np.clip(bias, layer.bias_type.min, layer.bias_type.max)
                lp = LayerParams(weights=w, bias=bias)
            elif net.quant_style == ir.MULTIPLIER:
                bias, m0, shift = _calibrate_multiplier(layer, acc)
                lp = LayerParams(weights=w, bias=bias, m0=m0, shift=shift)
            else:
                lp = LayerParams(weights=w, thresholds=_calibrate_thresholds(acc, layer.act_type, layer.acc_type))
            layers[layer.name] = lp
            xs = reference.activate(net, layer, lp, acc)
            continue
        layers[layer.name] = lp
        xs = reference.activate(net, layer, lp, reference.accumulate(layer, lp, xs))
    return Params(layers)


MAX_VALUES = 1 << 22
"""Most values one layer may hold per image in the reference: its input, its output, or a
convolution's windows (224x224 MobileNet-v1 needs 0.8 M)."""
MAX_WEIGHTS = 1 << 24
"""Most weights a network may have to make, load or generate code for (MobileNet-v1 1.0
has 4.2 M)."""


def check_size(net: ir.Network) -> None:
    """Refuse, at the input or the layer to blame, a network too large for the reference,
    the code generators and the GAP8 planner (``check`` and ``fold`` of FPGA specs take any
    size: they do not compute)."""
    hint = "use a smaller input or narrower layers (the limits are listed in docs/dsl.md, 'Limits')"
    if net.input.shape.size > MAX_VALUES:
        raise MemoryBudgetError(f"the input holds {net.input.shape.size:,} values per image; at most {MAX_VALUES:,} are computed",
                         net.input.span or net.span, hint)
    weights = 0
    for layer in net.layers:
        values = max(layer.in_shape.size, layer.out_shape.size)
        if isinstance(layer, (ir.Conv, ir.DwConv)):
            values = max(values, layer.out_shape.h * layer.out_shape.w * layer.fan_in)
        if values > MAX_VALUES:
            raise MemoryBudgetError(f"layer {layer.name!r} handles {values:,} values per image; at most {MAX_VALUES:,} are computed",
                             layer.span, hint)
        if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            weights += math.prod(_weight_shape(layer))
            if weights > MAX_WEIGHTS:
                raise MemoryBudgetError(f"the layers up to {layer.name!r} have {weights:,} weights; at most {MAX_WEIGHTS:,} are made or loaded",
                                 layer.span, hint)


def make_params(net: ir.Network, images=None, n_images: int | None = None, base_dir: str | None = None) -> Params:
    """Every layer's parameters: random and calibrated, or loaded from the network's npz.

    ``images`` (calibration inputs for random weights) default to ``n_images`` seeded random
    images (:func:`calibration_count` if None); ``base_dir`` resolves a relative npz path (default: the spec file's folder).
    A network beyond :data:`MAX_VALUES` or :data:`MAX_WEIGHTS` is refused (:func:`check_size`).
    """
    check_size(net)
    if isinstance(net.weights, ir.NpzWeights):
        return load_npz(net, base_dir=base_dir)
    return random_params(net, images=images, n_images=n_images)


# --------------------------------------------------------------------------------------
# npz files


def expected_keys(net: ir.Network) -> dict[str, tuple[str, ...]]:
    """Layer name -> the npz keys' suffixes it requires (see ``docs/weights.md``)."""
    mult = net.quant_style == ir.MULTIPLIER
    keys = {}
    for layer in net.layers:
        if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            if layer.act_type is None:
                keys[layer.name] = ("weights", "bias") if mult or layer.bias_type is not None else ("weights",)
            else:
                keys[layer.name] = ("weights", "bias", "m0", "shift") if mult else ("weights", "thresholds")
        else:
            keys[layer.name] = ()
    return keys


def _optional_keys(net: ir.Network, layer: ir.Layer) -> tuple[str, ...]:
    if isinstance(layer, ir.AvgPool):
        return ("m0", "shift") if net.quant_style == ir.MULTIPLIER else ("shift",)
    return ()


def _resolve(net: ir.Network, path: str | None, base_dir: str | None) -> str:
    path = path if path is not None else net.weights.path
    if os.path.isabs(path):
        return path
    if base_dir is None:
        base_dir = os.path.dirname(net.source) if net.source else "."
    return os.path.normpath(os.path.join(base_dir, path))


def _smallest_int_dtype(a: np.ndarray) -> np.dtype:
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    for dt in (np.int8, np.int16, np.int32, np.int64):
        if np.iinfo(dt).min <= lo and hi <= np.iinfo(dt).max:
            return np.dtype(dt)
    raise ValueError("values beyond int64")


def save_npz(path, net: ir.Network, params: Params) -> None:
    """Write ``params`` as ``<layer>.<field>`` arrays, each in the narrowest int dtype, to
    ``path`` (a file name or a binary file object)."""
    arrays = {}
    for layer in net.layers:
        for field, a in params[layer.name].arrays().items():
            arrays[f"{layer.name}.{field}"] = a.astype(_smallest_int_dtype(a))
    np.savez_compressed(path, **arrays)


MAX_MEMBERS = 65536
"""Most arrays a weight archive may hold."""


class _Loader:
    """Validation of one npz file against a network, with located, named errors."""

    def __init__(self, net: ir.Network, path: str, shown: str):
        self.net, self.path, self.shown = net, path, shown
        self.span = net.weights.span if isinstance(net.weights, ir.NpzWeights) else None

    def error(self, message: str, hint: str | None = None) -> WeightFileError:
        return WeightFileError(message, span=self.span, hint=hint)

    def open(self, layers: set[str]) -> dict[str, np.ndarray]:
        """The archive's arrays, read member by member: the directory is checked first
        (``.npy`` members, known layers, sizes declared within :data:`MAX_WEIGHT_BYTES`),
        then each member's ``.npy`` header (integer dtype, the declared shape's bytes
        within what is left) before its data, so nothing is read that could exhaust memory."""
        if not os.path.lexists(self.path):
            return self._fail(
                f"weight file {self.shown!r} not found (looked for {self.path})",
                "paths are relative to the spec file's folder; check the name, or use weights random(seed = N)",
            )
        with open_regular(self.path, "weight file", MAX_WEIGHT_BYTES, error=WeightFileError, span=self.span,
                          shown=repr(self.shown)) as f:
            head = f.read(6)
            f.seek(0)
            if head.startswith(b"\x93NUMPY"):
                self._not_npz("a single .npy array, not an archive of named arrays")
            if not head.startswith(b"PK"):
                self._not_npz("not a zip archive")
            try:
                with zipfile.ZipFile(f) as z:
                    return self._members(z, layers)
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError) as e:
                self._not_npz(f"a damaged zip archive: {e}")

    def _not_npz(self, why: str):
        self._fail(f"weight file {self.shown!r} is not an .npz archive ({why})",
                   "write it with numpy.savez or mbdsl.params.save_npz")

    def _members(self, z: zipfile.ZipFile, layers: set[str]) -> dict[str, np.ndarray]:
        infos = z.infolist()
        if len(infos) > MAX_MEMBERS:
            self._fail(f"weight file {self.shown!r} has {len(infos):,} members; at most {MAX_MEMBERS:,} are read",
                       "keep one array per '<layer>.<field>'")
        keys: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                self._fail(f"weight file {self.shown!r} has member {info.filename!r}, which is not a .npy array",
                           "an .npz holds '<layer>.<field>.npy' members only (numpy.savez writes them)")
            key = info.filename[: -len(".npy")]
            if key in keys:
                self._fail(f"weight file {self.shown!r} has array {key!r} twice", "keep one")
            owner = key.rsplit(".", 1)[0]
            if owner not in layers:
                self._fail(f"weight file {self.shown!r} has array {key!r}, but the network has no layer {owner!r}",
                           "was the layer renamed? keys are '<layer>.<field>', see docs/weights.md")
            keys[key] = info
        declared = sum(info.file_size for info in infos)
        if declared > MAX_WEIGHT_BYTES:
            self._fail(f"weight file {self.shown!r} unpacks to {declared:,} bytes; at most {MAX_WEIGHT_BYTES:,} are read",
                       "the limits are listed in docs/dsl.md, 'Limits'")
        return {key: self._member(z, key, info) for key, info in keys.items()}

    def _member(self, z: zipfile.ZipFile, key: str, info: zipfile.ZipInfo) -> np.ndarray:
        fmt = np.lib.format
        with z.open(info) as m:
            try:
                version = fmt.read_magic(m)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(m)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = fmt.read_array_header_2_0(m)
                else:
                    raise ValueError(f"unknown .npy version {version}")
            except (ValueError, EOFError, SyntaxError, TypeError) as e:
                self._fail(f"array {key!r} in {self.shown!r} is not a valid .npy array ({e})",
                           "write it with numpy.savez or mbdsl.params.save_npz")
            if dtype.hasobject or dtype.kind not in "iu":
                what = "holds pickled Python objects" if dtype.hasobject else f"has dtype {dtype}"
                self._fail(f"array {key!r} in {self.shown!r} {what}; layer {key.rsplit('.', 1)[0]!r} needs integers",
                           "store the quantized integer values (e.g. numpy.rint(x).astype(numpy.int32)), not float ones")
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes > info.file_size or any(d < 0 for d in shape):
                self._fail(f"array {key!r} in {self.shown!r} declares shape {shape} ({nbytes:,} bytes) but holds "
                           f"{info.file_size:,} bytes", "write it with numpy.savez or mbdsl.params.save_npz")
            data = m.read(nbytes)
        if len(data) != nbytes:
            self._fail(f"array {key!r} in {self.shown!r} is truncated", "write it with numpy.savez or mbdsl.params.save_npz")
        a = np.frombuffer(data, dtype=dtype)
        return a.reshape(shape[::-1]).T if fortran else a.reshape(shape)

    def _fail(self, message: str, hint: str):
        raise self.error(message, hint)

    def array(self, arrays, layer: ir.Layer, field: str) -> np.ndarray:
        key = f"{layer.name}.{field}"
        if key not in arrays:
            raise self.error(
                f"weight file {self.shown!r} has no array {key!r} (the {field} of layer {layer.name!r})",
                f"the file holds {_preview(arrays)}; keys are '<layer>.<field>', see docs/weights.md",
            )
        a = arrays[key]
        if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
            raise self.error(
                f"array {key!r} in {self.shown!r} has values up to {a.max()}, beyond every type of layer {layer.name!r}",
                "re-quantize to the type the spec declares",
            )
        return a.astype(np.int64)

    def shape(self, a: np.ndarray, layer: ir.Layer, field: str, want: tuple[int, ...], what: str):
        if a.shape != want:
            raise self.error(
                f"array '{layer.name}.{field}' in {self.shown!r} has shape {a.shape}; "
                f"layer {layer.name!r} needs {want} ({what})"
            )

    def within(self, a: np.ndarray, layer: ir.Layer, field: str, lo: int, hi: int, what: str):
        if a.size and (a.min() < lo or a.max() > hi):
            bad = a[(a < lo) | (a > hi)]
            raise self.error(
                f"array '{layer.name}.{field}' in {self.shown!r} has values {a.min()}..{a.max()} "
                f"outside {what} ({lo}..{hi}) of layer {layer.name!r} (e.g. {bad.flat[0]})",
                "re-quantize to the type the spec declares, or change the spec's type",
            )

    def scalar(self, arrays, layer: ir.Layer, field: str, lo: int, hi: int) -> int:
        a = self.array(arrays, layer, field)
        self.shape(a, layer, field, (), "one integer")
        self.within(a, layer, field, lo, hi, f"the legal {field} range")
        return int(a)


def _preview(arrays) -> str:
    keys = sorted(arrays)
    if not keys:
        return "no arrays"
    shown = ", ".join(repr(k) for k in keys[:6])
    return f"{len(keys)} arrays ({shown}{', ...' if len(keys) > 6 else ''})"


def load_npz(net: ir.Network, path: str | None = None, base_dir: str | None = None) -> Params:
    """Read and validate an npz written in the ``<layer>.<field>`` layout.

    Every required array must be present, integer, of the layer's shape and inside its
    type: weights in the weight type, thresholds sorted per channel and inside the
    accumulator type, ``acc + bias`` and ``(acc + bias) * m0`` inside int32. Any failure is a
    :class:`~mbdsl.errors.WeightFileError` at the spec's ``weights`` line, naming the layer
    and the key. ``path`` defaults to the network's npz path.
    """
    shown = path if path is not None else net.weights.path
    ld = _Loader(net, _resolve(net, path, base_dir), shown)
    arrays = ld.open({layer.name for layer in net.layers})
    keys = expected_keys(net)
    mult = net.quant_style == ir.MULTIPLIER

    layers: dict[str, LayerParams] = {}
    for layer in net.layers:
        fields: dict = {}
        if isinstance(layer, (ir.Conv, ir.DwConv, ir.FC)):
            c = _channels(layer)
            w = ld.array(arrays, layer, "weights")
            what = {ir.Conv: "out, kernel, kernel, in", ir.DwConv: "channels, kernel, kernel", ir.FC: "out, in"}
            ld.shape(w, layer, "weights", _weight_shape(layer), what[type(layer)])
            ld.within(w, layer, "weights", layer.weight_type.min, layer.weight_type.max, f"weight type {layer.weight_type}")
            fields["weights"] = w
            acc = layer.acc_type
            if "thresholds" in keys[layer.name]:
                t = ld.array(arrays, layer, "thresholds")
                ld.shape(t, layer, "thresholds", (c, layer.act_type.levels - 1), f"channels, {layer.act_type} levels - 1")
                ld.within(t, layer, "thresholds", acc.min, acc.max, f"accumulator type {acc}")
                unsorted = np.argwhere(np.diff(t, axis=1) < 0)
                if unsorted.size:
                    ch, i = (int(v) for v in unsorted[0])
                    raise ld.error(
                        f"array '{layer.name}.thresholds' in {shown!r}: the thresholds of channel {ch} "
                        f"are not sorted (threshold {i} is {t[ch, i]}, threshold {i + 1} is {t[ch, i + 1]})",
                        "each row must be non-decreasing (numpy.sort(t, axis=1))",
                    )
                fields["thresholds"] = t
            if "bias" in keys[layer.name]:
                b = ld.array(arrays, layer, "bias")
                ld.shape(b, layer, "bias", (c,), "one per output channel")
                if layer.bias_type is not None:
                    ld.within(b, layer, "bias", layer.bias_type.min, layer.bias_type.max, f"bias type {layer.bias_type}")
                else:
                    lim = INT32_LIMIT - max(abs(acc.min), abs(acc.max))
                    ld.within(b, layer, "bias", -lim, lim, "the int32 range left by the accumulator")
                fields["bias"] = b
            if "m0" in keys[layer.name]:
                m0 = ld.array(arrays, layer, "m0")
                if m0.shape not in ((), (c,)):
                    ld.shape(m0, layer, "m0", (), f"one integer, or {c} per channel")
                ld.within(m0, layer, "m0", 1, INT32_LIMIT, "the multiplier range")
                shift = ld.scalar(arrays, layer, "shift", 0, 31)
                worst = _worst_abs(acc, fields["bias"]) * int(m0.max()) + ((1 << (shift - 1)) if shift else 0)
                if worst > INT32_LIMIT:
                    raise ld.error(
                        f"arrays '{layer.name}.m0' and '{layer.name}.bias' in {shown!r} can overflow 32 bits: "
                        f"|acc + bias| * m0 reaches {worst} for accumulators of type {acc}",
                        "use a smaller m0 with a smaller shift (mbdsl.params.choose_multiplier)",
                    )
                fields["m0"] = int(m0) if m0.shape == () else m0
                fields["shift"] = shift
            layers[layer.name] = LayerParams(**fields)
        elif isinstance(layer, ir.AvgPool):
            lp = _pool_params(net, layer)
            opt = _optional_keys(net, layer)
            present = [f for f in opt if f"{layer.name}.{f}" in arrays]
            if present:
                if mult and len(present) != 2:
                    missing = next(f for f in opt if f not in present)
                    ld.array(arrays, layer, missing)  # raises: m0 and shift go together
                shift = ld.scalar(arrays, layer, "shift", 0, 31)
                if mult:
                    m0 = ld.scalar(arrays, layer, "m0", 1, INT32_LIMIT)
                    lp = LayerParams(m0=m0, shift=shift)
                else:
                    lp = LayerParams(shift=shift)
            layers[layer.name] = lp
        else:
            layers[layer.name] = LayerParams()
    return Params(layers)


# --------------------------------------------------------------------------------------
# Activation statistics


def activation_histograms(net: ir.Network, params: Params, images) -> dict[str, np.ndarray]:
    """Layer name -> counts of each output code (index = code - act_type.min), over
    ``images``, for every layer with an activation type."""
    outs = reference.run_batch(net, params, images)
    hists = {}
    for layer, y in zip(net.layers, outs):
        out = getattr(layer, "act_type", None)
        if out is None or isinstance(layer, ir.TopK):
            continue
        hists[layer.name] = np.bincount((y - out.min).ravel(), minlength=out.levels)
    return hists


def concentrated_layers(hists: Mapping[str, np.ndarray], limit: float = 0.9) -> list[tuple[str, int, float]]:
    """Layers whose most frequent code holds more than ``limit`` of the outputs:
    ``(name, code index, fraction)``. Empty for a network worth testing."""
    bad = []
    for name, h in hists.items():
        frac = h.max() / max(h.sum(), 1)
        if frac > limit:
            bad.append((name, int(h.argmax()), float(frac)))
    return bad


def _range(a) -> str:
    a = np.asarray(a)
    return f"{a.min()}..{a.max()}" if a.size > 1 else f"{a.item()}"


def summary(net: ir.Network, params: Params, images=None, n_images: int = 2) -> str:
    """A per-layer table: parameters and how the output codes spread on sample images."""
    if images is None:
        images = sample_images(net, n_images, seed=12345)
    hists = activation_histograms(net, params, images)
    rows = [("layer", "kind", "out", "weights", "quantization", "codes used", "top code")]
    for layer in net.layers:
        lp = params[layer.name]
        w = f"{lp.weights.shape} {_range(lp.weights)}" if lp.weights is not None else ""
        q = []
        if lp.thresholds is not None:
            q.append(f"thr {_range(lp.thresholds)}")
        if lp.bias is not None:
            q.append(f"bias {_range(lp.bias)}")
        if lp.m0 is not None:
            q.append(f"m0 {_range(lp.m0)}")
        if lp.shift is not None:
            q.append(f">>{lp.shift}")
        used = top = ""
        if layer.name in hists:
            h = hists[layer.name]
            used = f"{np.count_nonzero(h)}/{h.size}"
            top = f"{int(h.argmax()) + layer.act_type.min} ({100 * h.max() / max(h.sum(), 1):.1f}%)"
        rows.append((layer.name, layer.kind, str(layer.out_shape), w, " ".join(q), used, top))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(wd) for cell, wd in zip(r, widths)).rstrip() for r in rows)
