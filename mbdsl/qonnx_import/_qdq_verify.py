"""Checking an int8 QDQ import against onnxruntime's execution of the graph.

onnxruntime runs the QDQ graph with its graph optimizations off, so every
DequantizeLinear / Conv / QuantizeLinear runs as written: float32 arithmetic, then
``round_half_even(x / s_out)``. Each mbdsl layer is run on the codes onnxruntime fed the
corresponding ONNX node, and its codes compared with onnxruntime's, layer by layer. mbdsl
computes ``round_half_up((acc + bias) * m0 / 2**shift)``, onnxruntime in effect
``round_half_even((acc + bias) * M)`` with ``M = s_in * s_w / s_out`` in float32. A
differing code is

- a *tie* when the exact ``(acc + bias) * M`` lies within ``TIE_TOL`` of a half (float32
  arithmetic and the tie rule decide the side);
- a *multiplier* difference when onnxruntime's code is the exact ``(acc + bias) * M``
  rounded, ``m0`` is ``M * 2**shift`` rounded, and a half lies between the exact value and
  mbdsl's ``(acc + bias) * m0 / 2**shift`` (``m0 / 2**shift`` approximates M to half a unit
  of m0: a relative ``2**-(bits of m0)``);
- otherwise a failure (the import is wrong).

Top-1 predictions are compared from the image, with onnxruntime's default (optimized)
session too: it fuses QDQ groups into integer kernels with their own requantization.
"""

from __future__ import annotations

import attrs
import numpy as np

from .. import ir, reference
from ._errors import QonnxImportError

__all__ = ["TIE_TOL", "QdqLayerCheck", "QdqReport", "verify_qdq", "ort_logits"]

TIE_TOL = 1e-4
"""Distance (in output steps) from a half within which float32 decides the rounding."""


@attrs.frozen
class QdqLayerCheck:
    layer: str
    kind: str
    compared: int
    mismatches: int
    ties: int
    multiplier: int

    @property
    def failures(self) -> int:
        return self.mismatches - self.ties - self.multiplier


@attrs.frozen
class QdqReport:
    images: int
    layers: tuple[QdqLayerCheck, ...]
    top1_differ: int
    """Images whose top-1 class (reference, from the image) differs from onnxruntime's QDQ run."""
    top1_differ_optimized: int
    """... from onnxruntime's default (optimized) session."""
    ort_top1: np.ndarray
    ort_top1_optimized: np.ndarray
    mbdsl_top1: np.ndarray

    @property
    def failures(self) -> int:
        return sum(l.failures for l in self.layers)

    @property
    def exact(self) -> bool:
        """Every differing code is a tie or a multiplier rounding (the import is right)."""
        return self.failures == 0

    def table(self) -> str:
        rows = [("layer", "kind", "codes", "differ", "ties", "multiplier")]
        for l in self.layers:
            rows.append((l.layer, l.kind, str(l.compared), str(l.mismatches), str(l.ties), str(l.multiplier)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        ties = sum(l.ties for l in self.layers)
        mult = sum(l.multiplier for l in self.layers)
        lines.append(
            f"{self.images} images, {sum(l.compared for l in self.layers):,} codes fed onnxruntime's inputs: "
            f"{ties} ties, {mult} multiplier roundings, {self.failures} other differences; top-1 differs from "
            f"onnxruntime's QDQ run on {self.top1_differ}/{self.images} images "
            f"(optimized session: {self.top1_differ_optimized})"
        )
        return "\n".join(lines)


def _session(model, optimized: bool, extra_outputs=()):
    try:
        import onnx
        import onnxruntime as ort
    except ImportError:
        raise QonnxImportError("verification needs the optional package onnxruntime",
                               hint="pip install 'mbdsl[qonnx]'") from None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for name, elem in extra_outputs:
        if name not in have:
            m.graph.output.append(onnx.helper.make_tensor_value_info(name, elem, None))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if not optimized:
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _nchw(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1)[None]


def ort_logits(model, images, input_name: str, *, optimized: bool = True) -> np.ndarray:
    """onnxruntime's float logits of (N, H, W, C) u8 images, one image at a time."""
    sess = _session(model, optimized)
    return np.concatenate([sess.run(None, {input_name: _nchw(im)})[0].reshape(1, -1) for im in images])


def _hwc(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t)
    return t[0].transpose(1, 2, 0) if t.ndim == 4 else t.reshape(1, 1, -1)


def verify_qdq(model, imported, images) -> QdqReport:
    """Compare ``imported`` with onnxruntime's execution of the QDQ ``model`` on ``images``."""
    import onnx

    net, params, sites = imported.net, imported.params, imported.sites
    input_name = imported.input_name
    elem = {True: onnx.TensorProto.INT8, False: onnx.TensorProto.UINT8}
    wanted = []
    for r in sites:
        if r.in_tensor:
            wanted.append(r.in_tensor)
        wanted.append(r.out_tensor)
    types = {}
    for n in model.graph.node:
        if n.op_type == "QuantizeLinear":
            zp = [i for i in model.graph.initializer if len(n.input) > 2 and i.name == n.input[2]]
            types[n.output[0]] = zp[0].data_type if zp else onnx.TensorProto.UINT8
    sess = _session(model, False, [(t, types.get(t, elem[True])) for t in dict.fromkeys(wanted)])
    names = [o.name for o in sess.get_outputs()]
    stats = {l.name: [0, 0, 0, 0] for l in net.layers}
    ort_top1 = []
    for image in images:
        ctx = dict(zip(names, sess.run(None, {input_name: _nchw(image)})))
        ort_top1.append(int(np.argmax(ctx[names[0]].reshape(-1))))
        x = np.asarray(image, dtype=np.int64)
        for layer, r in zip(net.layers, sites):
            if r.in_tensor:
                x = _hwc(ctx[r.in_tensor]).astype(np.int64)
            st = stats[layer.name]
            n, diff, ties, mult = _check_layer(net, layer, params[layer.name], r, x, _hwc(ctx[r.out_tensor]))
            st[0] += n
            st[1] += diff
            st[2] += ties
            st[3] += mult
    mine = reference.classify_batch(net, params, np.asarray(images))
    mine = np.asarray(mine).reshape(len(images), -1)
    mine_top1 = mine[:, 0] if isinstance(net.layers[-1], ir.TopK) else np.argmax(mine, axis=1)
    opt = ort_logits(model, images, input_name, optimized=True).argmax(1)
    ort_top1 = np.asarray(ort_top1)
    layers = tuple(QdqLayerCheck(l.name, l.kind, *stats[l.name]) for l in net.layers)
    return QdqReport(len(images), layers, int(np.count_nonzero(mine_top1 != ort_top1)),
                     int(np.count_nonzero(mine_top1 != opt)), ort_top1, opt, mine_top1)


def _check_layer(net, layer, lp, r, x, theirs) -> tuple[int, int, int, int]:
    """(codes compared, differences, ties, multiplier roundings) of one layer fed onnxruntime's input."""
    acc = reference.accumulate(layer, lp, x[None])[0]
    y = np.asarray(reference.activate(net, layer, lp, acc)[None])[0].reshape(theirs.shape)
    theirs = theirs.astype(np.int64)
    bad = y != theirs
    diff = int(np.count_nonzero(bad))
    if not diff:
        return y.size, 0, 0, 0
    total = (acc + (lp.bias if lp.bias is not None and not isinstance(layer, ir.AvgPool) else 0)).astype(np.float64)
    exact = total.reshape(theirs.shape) * np.asarray(r.step, np.float64)
    approx = total.reshape(theirs.shape) * (np.asarray(lp.m0, np.float64) / 2.0**lp.shift)
    out = layer.act_type
    tie = np.abs(exact - np.floor(exact) - 0.5) < TIE_TOL
    rounded = np.clip(np.rint(exact), out.min, out.max)
    # m0 must be M * 2**shift rounded (per channel), and a rounding boundary (a half) must
    # lie between the exact value and mbdsl's: then only the multiplier's rounding differs.
    m0_ok = np.abs(np.asarray(lp.m0, np.float64) - np.asarray(r.step, np.float64) * 2.0**lp.shift) <= 0.5 + 1e-9
    crossed = np.floor(exact + 0.5) != np.floor(approx + 0.5)
    mult = ~tie & (rounded == theirs) & m0_ok & crossed
    return y.size, diff, int(np.count_nonzero(bad & tie)), int(np.count_nonzero(bad & mult))
