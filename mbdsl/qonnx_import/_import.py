"""The import pipeline: load -> lower (IR layers, parameters, ONNX sites) -> name -> spec text
(through the one spec writer) -> checked network + params.

The network is elaborated from the spec text it writes, so the spec and the parameters
cannot disagree; the parameters go through :func:`mbdsl.params.load_npz` (a round trip
through an ``.npz``), so they pass the same checks as any weight file.
"""

from __future__ import annotations

import io
import os
import tempfile

import attrs
from .. import ir
from ..errors import MbdslError
from ..files import MAX_MODEL_BYTES, read_bytes
from ..frontend import load_string
from ..output import write_files
from ..params import Params, load_npz, save_npz
from ..passes import check
from ._errors import QonnxImportError
from ._graph import Graph
from ._lower import lower
from ._model import Site
from ._qdq import is_qdq, lower_qdq, set_multipliers
from ._spec import FOLDS, name_layers, spec_name, spec_text

__all__ = ["Imported", "load_model", "import_model"]


def load_model(path: str):
    """Read an ONNX file (needs the optional ``onnx`` package)."""
    onnx = require_onnx()
    data = read_bytes(path, "model", MAX_MODEL_BYTES, error=QonnxImportError, hint="give the path of a QONNX .onnx file")
    try:
        return onnx.load_model_from_string(data)
    except Exception as e:  # onnx raises DecodeError, ValueError, ...
        raise QonnxImportError(f"cannot read {path} as an ONNX model: {e}", hint="export it with brevitas' export_qonnx") from None


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
    per layer where the ONNX graph computes it (the graph's input is ``input_name``)."""

    spec: str
    net: ir.Network
    params: Params
    sites: tuple[Site, ...]
    input_name: str
    weights_file: str

    def write(self, spec_path: str) -> None:
        """Write the spec and its ``.npz`` beside it (the name the spec refers to)."""
        folder = os.path.dirname(os.path.abspath(spec_path))
        npz = io.BytesIO()
        save_npz(npz, self.net, self.params)
        write_files({os.path.join(folder, self.weights_file): npz.getvalue(), spec_path: self.spec})


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
    lowered = lower_qdq(graph) if is_qdq(graph) else lower(graph)
    groups = name_layers(lowered.layers)
    net_name = spec_name(name or stem)  # graph names of exports are generic (main_graph, torch_jit)
    text = spec_text(lowered, groups, net_name, weights_file, source or "a QONNX model", fold)
    try:
        net = check(load_string(text, spec_path))
    except MbdslError as e:
        raise QonnxImportError(
            f"the imported network does not pass mbdsl's checks: {e.message}",
            hint="the spec was:\n" + text,
        ) from None
    layers = tuple(low for g in groups for low in g)
    if lowered.quant == ir.MULTIPLIER:
        layers = set_multipliers(net, layers)
    params = Params({low.layer.name: low.params for low in layers})
    _round_trip(net, params)
    return Imported(text, net, params, tuple(low.site for low in layers), lowered.input_name, weights_file)


def _round_trip(net: ir.Network, params: Params) -> None:
    """Save and load the parameters as the spec's npz: the same checks as any weight file,
    and proof that the file carries every parameter the import computed."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.npz")
        save_npz(path, net, params)
        try:
            loaded = load_npz(net, path)
        except MbdslError as e:
            raise QonnxImportError(f"the imported parameters do not fit the spec: {e.message}") from None
    for name, lp in params.items():
        if not lp.equals(loaded[name]):
            raise QonnxImportError(f"layer '{name}': the parameters read back from the npz differ from the imported ones")
