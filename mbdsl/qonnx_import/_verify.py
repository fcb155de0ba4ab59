"""Checking an import against QONNX's own execution (``qonnx.core.onnx_exec``).

Per image, QONNX executes the graph in float32 and keeps every tensor. Each mbdsl layer
is then run (with :mod:`mbdsl.reference`) on the codes QONNX fed the corresponding ONNX
nodes, and its output codes are compared with QONNX's (``tensor / scale``): layer by
layer, so that one difference does not cascade. A difference is a *tie* when QONNX's
quantizer input ``x / scale`` lies within ``TIE_TOL`` of a rounding boundary (float32
arithmetic decides the side there; the integer network rounds the exact value). Any other
difference is a failure. The whole reference is also run from the image, and its top-k
classes compared with QONNX's.
"""

from __future__ import annotations

import attrs
import numpy as np

from .. import ir, reference, semantics
from ._errors import QonnxImportError

__all__ = ["TIE_TOL", "LayerCheck", "VerifyReport", "verify", "run_qonnx"]

TIE_TOL = 1e-4
"""Distance (in quantizer steps) from a rounding boundary within which float32 decides."""


@attrs.frozen
class LayerCheck:
    """One layer over all images: codes compared, differences, of which ties, and codes
    that differ when the whole reference runs from the image (ties cascade there)."""

    layer: str
    kind: str
    compared: int
    mismatches: int
    ties: int
    end_to_end: int

    @property
    def failures(self) -> int:
        return self.mismatches - self.ties


@attrs.frozen
class VerifyReport:
    images: int
    layers: tuple[LayerCheck, ...]
    outputs_agree: int
    """Images whose final output (top-k classes, or the codes) equals QONNX's."""
    outputs_tied: int = 0
    """Images whose top-k classes differ from QONNX's only among classes of equal integer
    score (QONNX's float32 noise orders them; mbdsl takes the lower index)."""
    outputs_after_ties: int = 0
    """Images whose final output differs end to end, and that met a rounding tie on the way:
    a code flipped at a tie changes the next layers' inputs (every layer still equals
    QONNX's when fed QONNX's inputs)."""

    @property
    def ties(self) -> int:
        return sum(l.ties for l in self.layers)

    @property
    def failures(self) -> int:
        return sum(l.failures for l in self.layers)

    @property
    def exact(self) -> bool:
        """No difference except ties, and the same final output on every image."""
        return self.failures == 0 and self.outputs_agree + self.outputs_tied + self.outputs_after_ties == self.images

    def table(self) -> str:
        rows = [("layer", "kind", "codes", "differ", "ties", "end-to-end differ")]
        for l in self.layers:
            rows.append((l.layer, l.kind, str(l.compared), str(l.mismatches), str(l.ties), str(l.end_to_end)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.append(
            f"{self.images} images, {sum(l.compared for l in self.layers):,} codes: {self.ties} ties, {self.failures} other differences; "
            f"final output equal on {self.outputs_agree}/{self.images}"
            + (f" (and on {self.outputs_tied} up to classes of equal score)" if self.outputs_tied else "")
            + (f"; {self.outputs_after_ties} differ end to end after a tie (each layer equals QONNX's when fed "
               "QONNX's inputs)" if self.outputs_after_ties else "")
        )
        return "\n".join(lines)


def run_qonnx(model, image: np.ndarray, input_name: str) -> dict[str, np.ndarray]:
    """Every tensor of QONNX's float execution of ``model`` on one (H, W, C) u8 image."""
    try:
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.core.onnx_exec import execute_onnx
    except ImportError:
        raise QonnxImportError("verification needs the optional package qonnx", hint="pip install 'mbdsl[qonnx]'") from None
    mw = model if isinstance(model, ModelWrapper) else ModelWrapper(model)
    x = np.asarray(image, dtype=np.float32).transpose(2, 0, 1)[None]
    return execute_onnx(mw, {input_name: x}, return_full_exec_context=True)


def _prepared(model):
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.infer_shapes import InferShapes

    import copy

    return ModelWrapper(copy.deepcopy(model)).transform(InferShapes())


def _hwc(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t)
    if t.ndim == 4:
        return t[0].transpose(1, 2, 0)
    return t.reshape(1, 1, -1)


def _per_channel(scale, n: int) -> np.ndarray:
    s = np.asarray(scale, dtype=np.float64).reshape(-1)
    return np.full(n, s[0]) if s.size == 1 else s


def _codes(t: np.ndarray, scale) -> np.ndarray:
    v = _hwc(t).astype(np.float64)
    return np.rint(v / _per_channel(scale, v.shape[-1])).astype(np.int64)


def _boundary_distance(q: np.ndarray, rounding: str) -> np.ndarray:
    frac = q - np.floor(q)
    if rounding == "floor":
        return np.minimum(frac, 1 - frac)
    return np.abs(frac - 0.5)


def verify(model, imported, images, *, qonnx_model=None) -> VerifyReport:
    """Compare ``imported`` (an :class:`~mbdsl.qonnx_import.Imported`) with QONNX's execution
    of ``model`` (a ModelProto or a path) on ``images`` ((N, H, W, C) u8)."""
    if isinstance(model, str):
        from ._import import load_model

        model = load_model(model)
    mw = qonnx_model if qonnx_model is not None else _prepared(model)
    net, params = imported.net, imported.params
    input_name = imported.input_name
    stats = {l.name: [0, 0, 0, 0] for l in net.layers}
    agree = tied = after = 0
    for image in images:
        try:
            ctx = run_qonnx(mw, image, input_name)
        except QonnxImportError:
            raise
        except Exception as e:
            raise QonnxImportError(f"qonnx could not execute the graph: {e}") from None
        outs = reference.run(net, params, image)
        image_ties = 0
        for layer, site, out in zip(net.layers, imported.sites, outs):
            st = stats[layer.name]
            n, diff, ties = _check_layer(net, layer, params[layer.name], site, ctx, image)
            image_ties += ties
            st[0] += n
            st[1] += diff
            st[2] += ties
            st[3] += _end_to_end(layer, site, ctx, out)
        same = _final_agrees(net, imported.sites[-1], ctx, outs[-1])
        equal_scores = not same and _final_tied(net, imported.sites[-1], ctx, outs)
        agree += same
        tied += equal_scores
        after += not same and not equal_scores and image_ties > 0
    layers = tuple(LayerCheck(l.name, l.kind, *stats[l.name]) for l in net.layers)
    return VerifyReport(len(images), layers, agree, tied, after)


def _layer_input(site, ctx, image) -> np.ndarray:
    if site.in_scale is None:
        return np.asarray(image, dtype=np.int64)
    return _codes(ctx[site.in_tensor], site.in_scale)


def _check_layer(net, layer, lp, site, ctx, image) -> tuple[int, int, int]:
    """(codes compared, differences, ties) of one layer fed QONNX's inputs."""
    x = _layer_input(site, ctx, image)
    if isinstance(layer, ir.TopK):
        scores = np.rint(ctx[site.in_tensor].reshape(-1).astype(np.float64) / site.in_scale[0]).astype(np.int64)
        mine = semantics.topk(scores, layer.k)
        theirs = np.asarray(ctx[site.out_tensor]).reshape(-1).astype(np.int64)
        diff = int(np.count_nonzero(mine != theirs))
        # Classes of equal integer score: float32 noise orders them, mbdsl takes the lower index.
        tie = diff and np.array_equal(scores[mine], scores[theirs])
        return layer.k, diff, diff if tie else 0
    acc = reference.accumulate(layer, lp, x[None])
    y = reference.activate(net, layer, lp, acc)[0]
    if layer.act_type is None and not isinstance(layer, ir.AvgPool):
        logits = _hwc(ctx[site.out_tensor]).reshape(-1).astype(np.float64)
        want = site.logit_scale * np.asarray(y, dtype=np.float64).reshape(-1)
        tol = 1e-5 * max(1.0, float(np.abs(logits).max()))
        diff = int(np.count_nonzero(np.abs(logits - want) > tol))
        return logits.size, diff, 0
    theirs = _codes(ctx[site.out_tensor], site.out_scale)
    y = np.asarray(y).reshape(theirs.shape)
    bad = y != theirs
    diff = int(np.count_nonzero(bad))
    ties = 0
    if diff and site.pre_tensor is not None:
        q = _hwc(ctx[site.pre_tensor]).astype(np.float64) / _per_channel(site.step, theirs.shape[-1])
        ties = int(np.count_nonzero(bad & (_boundary_distance(q, site.rounding) < TIE_TOL)))
    return y.size, diff, ties


def _end_to_end(layer, site, ctx, out) -> int:
    """Codes of the reference run from the image that differ from QONNX's."""
    if isinstance(layer, ir.TopK):
        theirs = np.asarray(ctx[site.out_tensor]).reshape(-1).astype(np.int64)
        return int(np.count_nonzero(np.asarray(out).reshape(-1) != theirs))
    if layer.act_type is None and not isinstance(layer, ir.AvgPool):
        logits = _hwc(ctx[site.out_tensor]).reshape(-1).astype(np.float64)
        want = site.logit_scale * np.asarray(out, dtype=np.float64).reshape(-1)
        return int(np.count_nonzero(np.abs(logits - want) > 1e-5 * max(1.0, float(np.abs(logits).max()))))
    theirs = _codes(ctx[site.out_tensor], site.out_scale)
    return int(np.count_nonzero(np.asarray(out).reshape(theirs.shape) != theirs))


def _final_tied(net, site, ctx, outs) -> bool:
    """The reference's top-k and QONNX's pick classes of the same integer scores."""
    if not isinstance(net.layers[-1], ir.TopK) or len(outs) < 2:
        return False
    scores = np.asarray(outs[-2]).reshape(-1)
    theirs = np.asarray(ctx[site.out_tensor]).reshape(-1).astype(np.int64)
    return bool(np.array_equal(scores[np.asarray(outs[-1]).reshape(-1)], scores[theirs]))


def _final_agrees(net, site, ctx, out) -> int:
    last = net.layers[-1]
    if isinstance(last, ir.TopK):
        theirs = np.asarray(ctx[site.out_tensor]).reshape(-1).astype(np.int64)
        return int(np.array_equal(np.asarray(out).reshape(-1), theirs))
    if last.act_type is None:
        return int(_end_to_end(last, site, ctx, out) == 0)
    theirs = _codes(ctx[site.out_tensor], site.out_scale)
    return int(np.array_equal(np.asarray(out).reshape(theirs.shape), theirs))
