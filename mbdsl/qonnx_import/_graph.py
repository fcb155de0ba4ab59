"""An ONNX graph as the importer reads it: constants, quantized constants, the data path.

:class:`Graph` indexes a ``ModelProto``: initializers and ``Constant`` nodes are constants;
small constant subgraphs (Identity, Cast, Reshape, Transpose, arithmetic...) are evaluated
with numpy on demand; a ``Quant`` node whose input is constant is a quantized constant
(:class:`QConst`: integers and their scale). :meth:`Graph.chain` walks the data path from
the single graph input to the output: a straight chain of nodes (mbdsl networks do not
branch). Shape side chains (``Shape -> Gather -> ... -> Reshape``) are ignored.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from ..dtypes import IntType
from ._errors import QonnxImportError, node_error

__all__ = ["QUANT_DOMAINS", "QConst", "Graph", "attr", "quant_type", "ROUNDING_MODES"]

QUANT_DOMAINS = ("onnx.brevitas", "qonnx.custom_op.general", "finn.custom_op.general")
"""Domains under which Brevitas/QONNX emit Quant, Trunc and BipolarQuant."""

ROUNDING_MODES = {"ROUND": "half_even", "HALF_EVEN": "half_even", "FLOOR": "floor", "HALF_UP": "half_up"}
"""QONNX rounding modes the importer folds exactly, and their :mod:`mbdsl.preprocess` names.
QONNX's HALF_UP rounds halves away from zero; it differs from ``half_up`` only on
negative exact halves, which clip to 0 in unsigned outputs (and are ties anyway)."""

# Ops the shape side chains of torch exports use; they never carry activations.
_SIDE_OPS = {"Shape", "Size"}


def attr(node, name: str, default=None):
    """An attribute of an ONNX node as a Python value."""
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            v = helper.get_attribute_value(a)
            return v.decode() if isinstance(v, bytes) else v
    return default


@attrs.frozen(eq=False)
class QConst:
    """A constant through a Quant node: ``value = scale * (ints - zeropt)``, zeropt 0.

    ``ints`` are exact integers (int64); ``scale`` is broadcast to ``ints``' shape.
    """

    ints: np.ndarray
    scale: np.ndarray
    type: IntType
    node: object

    def transpose(self, perm) -> QConst:
        return attrs.evolve(self, ints=self.ints.transpose(perm), scale=self.scale.transpose(perm))

    def reshape(self, shape) -> QConst:
        return attrs.evolve(self, ints=self.ints.reshape(shape), scale=self.scale.reshape(shape))


def quant_type(node, bits: float, signed: bool, narrow: bool) -> IntType:
    """The integer type of a Quant node; raises for bit widths that are not whole."""
    if not math.isfinite(bits) or bits != int(bits) or bits < 1:
        raise node_error(node, f"bit width {bits} is not a whole number of bits")
    bits = int(bits)
    if signed:
        return IntType(bits, True, narrow=narrow)
    return IntType(bits, False)


MAX_NODES = 100_000
"""Most nodes a graph may have (MobileNet-v1 exports have about 400)."""
MAX_CONST_DEPTH = 64
"""Deepest constant subgraph evaluated (torch exports need a handful of nodes)."""
MAX_INITIALIZER_VALUES = 1 << 26
"""Most values one initializer may declare."""


def _initializer(t) -> np.ndarray:
    """An initializer as an array; dims that do not match the data are refused."""
    from onnx import numpy_helper

    count = math.prod(t.dims)
    if any(d < 0 for d in t.dims):
        raise QonnxImportError(f"initializer '{t.name}' declares negative dims {list(t.dims)}",
                               hint="the model file is damaged: export it again")
    if count > MAX_INITIALIZER_VALUES:
        raise QonnxImportError(f"initializer '{t.name}' declares dims {list(t.dims)}: more than {MAX_INITIALIZER_VALUES:,} values",
                               hint="the model file is damaged or not an image network")
    try:
        a = numpy_helper.to_array(t)
    except Exception as e:  # onnx raises ValueError, TypeError, KeyError... for damaged tensors
        raise QonnxImportError(f"initializer '{t.name}' cannot be read: its dims {list(t.dims)} do not match its data ({e})",
                               hint="the model file is damaged: export it again") from None
    if a.size != count:
        raise QonnxImportError(f"initializer '{t.name}' holds {a.size} values for dims {list(t.dims)}",
                               hint="the model file is damaged: export it again")
    return a


class Graph:
    """Index of a model's nodes, tensors and constants."""

    def __init__(self, model):
        self.model = model
        g = model.graph
        self.nodes = list(g.node)
        if len(self.nodes) > MAX_NODES:
            raise QonnxImportError(f"the graph has {len(self.nodes):,} nodes; at most {MAX_NODES:,} are read",
                                   hint="simplify the model before the import (qonnx cleanup)")
        self.consts: dict[str, np.ndarray] = {t.name: _initializer(t) for t in g.initializer}
        self.producer = {}
        self.consumers: dict[str, list] = {}
        for n in self.nodes:
            for o in n.output:
                self.producer[o] = n
            for i in n.input:
                if i:
                    self.consumers.setdefault(i, []).append(n)
        self.outputs = [o.name for o in g.output]
        self.opsets = {o.domain or "": int(o.version) for o in model.opset_import}
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs) or "none"
            raise QonnxImportError(
                f"the graph has {len(inputs)} data inputs ({names}); an image network has one",
                hint="export the model with a single image input",
            )
        self.input = inputs[0]
        self._cache: dict[str, np.ndarray | None] = {}
        self._depth = 0
        self._check_wiring()

    def _check_wiring(self) -> None:
        """Every tensor a node reads is produced, a constant or the input; no cycle."""
        known = set(self.consts) | {self.input.name} | set(self.producer)
        for n in self.nodes:
            for i in n.input:
                if i and i not in known:
                    raise node_error(n, f"it reads tensor '{i}', which no node produces and which is no input or initializer",
                                     "export the complete graph")
        if not self.consumers.get(self.input.name):
            raise QonnxImportError(f"graph input '{self.input.name}' feeds no node", hint="export the complete graph")
        # Kahn's algorithm: nodes left over sit on a cycle.
        pending = {id(n): sum(1 for i in n.input if i in self.producer) for n in self.nodes}
        ready = [n for n in self.nodes if pending[id(n)] == 0]
        done = 0
        while ready:
            n = ready.pop()
            done += 1
            for o in n.output:
                for user in self.consumers.get(o, []):
                    pending[id(user)] -= sum(1 for i in user.input if i == o)
                    if pending[id(user)] == 0:
                        ready.append(user)
        if done != len(self.nodes):
            stuck = next(n for n in self.nodes if pending[id(n)] > 0)
            raise node_error(stuck, "the graph has a cycle through this node", "an ONNX graph is acyclic: export it again")

    # --- shapes -----------------------------------------------------------------------

    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the graph's image input, which must be (1, C, H, W) (a symbolic batch counts as 1)."""
        dims = self.input.type.tensor_type.shape.dim
        shape = []
        for i, d in enumerate(dims):
            if d.HasField("dim_value"):
                shape.append(d.dim_value)
            elif i == 0:
                shape.append(1)  # a symbolic batch
            else:
                raise QonnxImportError(
                    f"graph input '{self.input.name}' has a symbolic dimension {i} ({d.dim_param!r})",
                    hint="export with a fixed input size (e.g. torch.randn(1, 3, 224, 224))",
                )
        if len(shape) != 4 or shape[0] != 1:
            raise node_error(
                f"graph input '{self.input.name}'",
                f"has shape {list(shape)}; an image input is (1, C, H, W)",
                "export with a batch of one NCHW image",
            )
        return tuple(int(d) for d in shape[1:])

    # --- constants --------------------------------------------------------------------

    def const(self, name: str) -> np.ndarray | None:
        """The value of a constant tensor (evaluated through small constant subgraphs), or None."""
        if not name:
            return None
        if name in self.consts:
            return self.consts[name]
        if name in self._cache:
            return self._cache[name]
        self._cache[name] = None  # cycles and data tensors stay None
        node = self.producer.get(name)
        self._deeper(node)
        try:
            value = None if node is None else self._eval(node, name)
        finally:
            self._depth -= 1
        self._cache[name] = value
        return value

    def _deeper(self, node) -> None:
        """Constant subgraphs are evaluated recursively: refuse one deeper than MAX_CONST_DEPTH."""
        self._depth += 1
        if self._depth > MAX_CONST_DEPTH:
            self._depth = 0
            raise node_error(node, f"a constant is computed through more than {MAX_CONST_DEPTH} nodes",
                             "fold the constants before the import (qonnx FoldConstants)")

    def _eval(self, node, name: str):
        from onnx import numpy_helper

        op = node.op_type
        if op == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    return numpy_helper.to_array(a.t)
                if a.name in ("value_float", "value_int"):
                    return np.asarray(attr(node, a.name))
                if a.name in ("value_floats", "value_ints"):
                    return np.asarray(attr(node, a.name))
            return None
        if op in _SIDE_OPS:
            return None
        if op == "Quant" and node.domain in QUANT_DOMAINS:
            q = self.qconst(name)
            return None if q is None else (q.ints * q.scale).astype(np.float32)
        ins = [self.const(i) if i else None for i in node.input]
        if any(v is None for i, v in zip(node.input, ins) if i):
            return None
        try:
            if op in ("Identity", "Dropout"):
                return ins[0] if node.output[0] == name else None
            if op == "Cast":
                from onnx import helper

                return ins[0].astype(helper.tensor_dtype_to_np_dtype(attr(node, "to")))
            if op == "Reshape":
                return ins[0].reshape([int(d) if d != 0 else ins[0].shape[j] for j, d in enumerate(ins[1])])
            if op == "Transpose":
                return ins[0].transpose(attr(node, "perm"))
            if op == "Unsqueeze":
                axes = attr(node, "axes") if len(ins) < 2 else ins[1]
                out = ins[0]
                for ax in sorted(int(a) for a in axes):
                    out = np.expand_dims(out, ax)
                return out
            if op == "Squeeze":
                axes = attr(node, "axes") if len(ins) < 2 else ins[1]
                return np.squeeze(ins[0], axis=tuple(int(a) for a in axes) if axes is not None else None)
            if op in ("Mul", "Div", "Add", "Sub"):
                f = {"Mul": np.multiply, "Div": np.divide, "Add": np.add, "Sub": np.subtract}[op]
                return f(ins[0], ins[1])
            if op == "Neg":
                return -ins[0]
            if op == "Concat":
                return np.concatenate(ins, axis=attr(node, "axis"))
        except (ValueError, TypeError, IndexError):
            return None
        return None

    def qconst(self, name: str) -> QConst | None:
        """A Quant node on a constant, as integers and scale; None if ``name`` is not one.

        Looks through Identity; a Transpose or Reshape after the Quant is applied to both
        the integers and the scale.
        """
        node = self.producer.get(name)
        hops = 0
        while node is not None and node.op_type == "Identity":
            hops += 1
            if hops > MAX_CONST_DEPTH:
                raise node_error(node, f"more than {MAX_CONST_DEPTH} Identity nodes in a row",
                                 "remove identities before the import (qonnx RemoveIdentityOps)")
            node = self.producer.get(node.input[0])
        if node is None:
            return None
        if node.op_type == "Transpose":
            q = self.qconst(node.input[0])
            return None if q is None else q.transpose(attr(node, "perm"))
        if node.op_type == "Reshape":
            q = self.qconst(node.input[0])
            shape = self.const(node.input[1])
            return None if q is None or shape is None else q.reshape([int(d) for d in shape])
        if node.op_type == "BipolarQuant" and node.domain in QUANT_DOMAINS:
            raise node_error(node, "bipolar (1-bit) weights are not supported", "use 2 to 8 bit weights")
        if node.op_type != "Quant" or node.domain not in QUANT_DOMAINS:
            return None
        x, scale, zeropt, bits = (self.const(i) for i in node.input[:4])
        if x is None:
            return None
        for what, v in (("scale", scale), ("zero point", zeropt), ("bit width", bits)):
            if v is None:
                raise node_error(node, f"the {what} is not a constant", "export with static quantization parameters")
        if np.any(zeropt != 0):
            raise node_error(node, "a non-zero zero point is not supported (mbdsl integers are symmetric)",
                             "quantize with zero_point = 0 (Brevitas Int*/Uint* quantizers)")
        if bits.size != 1:
            raise node_error(node, "a per-channel bit width is not supported")
        if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
            raise node_error(node, "the scale must be positive and finite")
        t = quant_type(node, float(bits.reshape(())), bool(attr(node, "signed", 1)), bool(attr(node, "narrow", 0)))
        if t.bits == 1:
            raise node_error(node, "1-bit quantization is not supported", "use 2 to 8 bits")
        mode = str(attr(node, "rounding_mode", "ROUND")).upper()
        if mode not in ROUNDING_MODES:
            raise node_error(node, f"rounding mode {mode} is not supported", f"use one of {', '.join(ROUNDING_MODES)}")
        lo = t.min if not (not t.signed and bool(attr(node, "narrow", 0))) else 0
        hi = t.max - (1 if (not t.signed and bool(attr(node, "narrow", 0))) else 0)
        if not np.all(np.isfinite(np.asarray(x, dtype=np.float64))):
            raise node_error(node, "the quantized constant holds nan or inf", "export the model again")
        # QONNX semantics in float32: clip(x / scale) to [lo, hi], then round.
        try:
            q = np.asarray(x, dtype=np.float32) / np.asarray(scale, dtype=np.float32)
        except ValueError:
            raise node_error(node, f"the scale's shape {np.shape(scale)} does not fit the tensor's {np.shape(x)}",
                             "a scale is one value, or one per output channel") from None
        q = np.clip(q, lo, hi)
        ints = _round(q.astype(np.float64), mode).astype(np.int64)
        sc = np.broadcast_to(np.asarray(scale, dtype=np.float64), ints.shape).copy()
        return QConst(ints=ints, scale=sc, type=t, node=node)

    # --- data path ----------------------------------------------------------------------

    def data_consumers(self, tensor: str) -> list:
        """Nodes that read ``tensor`` as data (shape side chains excluded)."""
        out = []
        for n in self.consumers.get(tensor, []):
            if n.op_type in _SIDE_OPS:
                continue
            if n.op_type == "Reshape" and n.input[0] != tensor:
                continue
            out.append(n)
        return out

    def chain(self) -> list:
        """The data path: nodes from the graph input to the output, in order (at least one)."""
        tensor = self.input.name
        nodes = []
        seen = set()
        while True:
            users = self.data_consumers(tensor)
            if not users:
                break
            if len(users) > 1:
                names = ", ".join(f"'{u.name}' ({u.op_type})" for u in users)
                raise node_error(
                    self.producer.get(tensor) or f"graph input '{tensor}'",
                    f"its output '{tensor}' feeds {len(users)} nodes ({names}); mbdsl networks are a chain",
                    "residual connections and branches are not supported",
                )
            node = users[0]
            if id(node) in seen:  # pragma: no cover - ONNX graphs are acyclic
                raise node_error(node, "the graph has a cycle")
            seen.add(id(node))
            nodes.append(node)
            tensor = _data_output(node)
            if tensor in self.outputs and not self.data_consumers(tensor):
                break
        if not nodes:
            raise node_error(f"graph input '{self.input.name}'", "feeds no node")
        return nodes


def _data_output(node) -> str:
    if node.op_type == "TopK":
        return node.output[1] if len(node.output) > 1 else node.output[0]
    return node.output[0]


def _round(q: np.ndarray, mode: str) -> np.ndarray:
    if mode in ("ROUND", "HALF_EVEN"):
        return np.round(q)
    if mode == "FLOOR":
        return np.floor(q)
    if mode == "HALF_UP":
        return np.sign(q) * np.floor(np.abs(q) + 0.5)
    raise ValueError(mode)  # pragma: no cover - checked by the caller
