"""The import pipeline: load -> lower -> name -> spec text -> checked network + params.

The network is elaborated from the spec text it writes, so the spec and the parameters
cannot disagree; the parameters go through :func:`mbdsl.params.load_npz` (a round trip
through an ``.npz``), so they pass the same checks as any weight file.
"""

from __future__ import annotations

import os
import tempfile

import attrs
import numpy as np

from .. import ir
from ..errors import MbdslError
from ..frontend import load_string
from ..params import LayerParams, Params, load_npz, save_npz
from ..passes import check
from ._errors import QonnxImportError, node_error
from ._graph import Graph
from ._lower import Lowered, Record, lower
from ._spec import FOLDS, assign_names, spec_name, write_spec

__all__ = ["Imported", "load_model", "import_model"]


def load_model(path: str):
    """Read an ONNX file (needs the optional ``onnx`` package)."""
    onnx = require_onnx()
    try:
        return onnx.load(path)
    except FileNotFoundError:
        raise QonnxImportError(f"cannot read {path}: no such file") from None
    except Exception as e:  # onnx raises DecodeError, OSError, ...
        raise QonnxImportError(f"cannot read {path} as an ONNX model: {e}") from None


def require_onnx():
    try:
        import onnx
    except ImportError:
        raise MbdslError(
            "importing QONNX models needs the optional packages onnx and qonnx",
            hint="pip install 'mbdsl[qonnx]'",
        ) from None
    return onnx


@attrs.frozen(eq=False)
class Imported:
    """An imported network: the spec text, the checked network, its integer parameters, and
    the layer records (with the ONNX tensors each layer corresponds to)."""

    spec: str
    net: ir.Network
    params: Params
    records: tuple[Record, ...]
    lowered: Lowered
    weights_file: str
    file_problem: QonnxImportError | None = None
    """Why the spec and npz cannot hold these parameters (they are still exact in memory):
    :meth:`write` raises it."""

    def record(self, layer_name: str) -> Record:
        for r in self.records:
            if r.name == layer_name:
                return r
        raise KeyError(layer_name)

    def write(self, spec_path: str) -> None:
        """Write the spec and its ``.npz`` beside it (the name the spec refers to).

        Raises :attr:`file_problem` if the files could not carry every parameter.
        """
        if self.file_problem is not None:
            raise self.file_problem
        folder = os.path.dirname(os.path.abspath(spec_path))
        npz = os.path.join(folder, self.weights_file)
        _atomic(npz, lambda p: save_npz(p, self.net, self.params), suffix=".npz")
        _atomic(spec_path, lambda p: _write_text(p, self.spec), suffix=".mbn")


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _atomic(path: str, write, suffix: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".mbdsl-import-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def import_model(
    model,
    spec_path: str = "imported.mbn",
    *,
    name: str | None = None,
    fold: str = "auto",
    source: str | None = None,
) -> Imported:
    """Import a QONNX ``ModelProto`` (or a path to one) as an mbdsl network.

    ``spec_path`` is where the spec will live (its ``.npz`` is named after it);
    ``fold`` is ``"auto"`` (``fold(auto)`` in the defaults) or ``"none"``. Raises
    :class:`QonnxImportError` naming the node for anything that cannot be imported exactly.
    """
    if isinstance(model, (str, os.PathLike)):
        source = source or os.path.basename(str(model))
        model = load_model(str(model))
    require_onnx()
    if fold not in FOLDS:
        raise QonnxImportError(f"fold must be one of {', '.join(FOLDS)}, not {fold!r}")
    stem = os.path.splitext(os.path.basename(spec_path))[0]
    weights_file = f"{stem}.npz"
    graph = Graph(model)
    lowered = lower(graph)
    groups = assign_names(lowered.records)
    net_name = spec_name(name or stem)  # graph names of exports are generic (main_graph, torch_jit)
    text = write_spec(lowered, groups, net_name, weights_file, source or "a QONNX model", fold)
    try:
        net = check(load_string(text, spec_path))
    except MbdslError as e:
        raise QonnxImportError(
            f"the imported network does not pass mbdsl's checks: {e.message}",
            hint="the spec was:\n" + text,
        ) from None
    records = tuple(r for g in groups for r in g)
    params = Params({r.name: _layer_params(r) for r in records})
    problem = _round_trip(net, params, records)
    return Imported(text, net, params, records, lowered, weights_file, problem)


def _layer_params(r: Record) -> LayerParams:
    if r.kind in ("conv", "dwconv", "fc"):
        return LayerParams(weights=r.weights, thresholds=r.thresholds, bias=r.bias)
    if r.kind == "avgpool":
        return LayerParams(shift=r.shift)
    return LayerParams()


def _round_trip(net: ir.Network, params: Params, records) -> QonnxImportError | None:
    """Save and load the parameters as the spec's npz: the same checks as any weight file,
    and proof that the file carries every parameter the import computed. Returns the error
    for a final-layer bias the weight file drops (the in-memory import stays exact)."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.npz")
        save_npz(path, net, params)
        try:
            loaded = load_npz(net, path)
        except MbdslError as e:
            raise QonnxImportError(f"the imported parameters do not fit the spec: {e.message}") from None
    for r in records:
        mine, back = params[r.name], loaded[r.name]
        if mine.equals(back):
            continue
        if r.bias is not None and back.bias is None:
            return node_error(
                f"node '{r.nodes[0]}' ({r.op})",
                f"layer '{r.name}' adds an integer bias to the logits ({np.count_nonzero(r.bias)} of "
                f"{r.bias.size} classes non-zero), but the thresholds-style weight file of this mbdsl does not "
                f"carry '{r.name}.bias': the spec would rank classes without it",
                "export the last layer with bias=False, or use an mbdsl whose weight loader reads "
                "'<fc>.bias' in the thresholds style (see docs/qonnx.md)",
            )
        raise QonnxImportError(f"layer '{r.name}': the parameters read back from the npz differ from the imported ones")
    return None
