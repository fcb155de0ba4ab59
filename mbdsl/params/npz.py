"""``.npz`` weight files: writing a network's parameters, and loading one validated
against the network with located, named errors (layout in ``docs/weights.md``)."""

from __future__ import annotations

import math
import os
import zipfile

import numpy as np

from .. import ir
from ..errors import WeightFileError
from ..files import MAX_WEIGHT_BYTES, open_regular
from .calibration import pool_params, worst_abs
from .model import INT32_LIMIT, LayerParams, Params, channels, weight_shape

__all__ = ["expected_keys", "save_npz", "load_npz", "MAX_MEMBERS"]


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
            c = channels(layer)
            w = ld.array(arrays, layer, "weights")
            what = {ir.Conv: "out, kernel, kernel, in", ir.DwConv: "channels, kernel, kernel", ir.FC: "out, in"}
            ld.shape(w, layer, "weights", weight_shape(layer), what[type(layer)])
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
                worst = worst_abs(acc, fields["bias"]) * int(m0.max()) + ((1 << (shift - 1)) if shift else 0)
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
            lp = pool_params(net, layer)
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
