"""Standard int8 QDQ ONNX (QuantizeLinear/DequantizeLinear, e.g. onnxruntime's
``quantize_static`` in QDQ format) -> layers in the multiplier style.

The supported data path is a chain::

    input -> Q(uint8, scale 1, zero point 0)            the pixels themselves
    DQ -> Conv(DQ(int8 W), DQ(int32 bias)) -> Q(s) [-> DQ -> Relu -> Q(s)]
    DQ -> GlobalAveragePool -> Q(s) [-> DQ -> Flatten -> Q(s)]
    DQ -> Gemm(DQ(int8 W), DQ(int32 bias)) -> Q(s) -> DQ -> output

with zero points 0 everywhere (symmetric quantization), weights per tensor or per output
channel, and each bias at the scale ``s_in * s_w`` of its layer (as the quantizer writes it).
A layer's real multiplier is ``M[c] = s_in * s_w[c] / s_out`` (a pool's ``s_in / (H*W*s_out)``);
it becomes ``m0[c] / 2**shift`` with one shift per layer, the largest for which every
``|acc + bias| * m0 + 2**(shift-1)`` stays inside int32 (the accumulator type's bound), as
GAP8's NNTool does. Where this integer result can differ from onnxruntime's float one is
documented in ``docs/eval.md`` (int8 QDQ models).
"""

from __future__ import annotations

import attrs
import numpy as np

from .. import ir
from ..dtypes import IntType
from ..params import INT32_LIMIT, LayerParams, worst_abs
from ..semantics import window_out
from ._errors import QonnxImportError, node_error
from ._graph import Graph
from ._model import Lowered, LoweredLayer, Site

__all__ = ["is_qdq", "lower_qdq", "set_multipliers"]

U8, I8 = IntType(8, False), IntType(8, True)
UINT7 = IntType(7, False)


def is_qdq(graph: Graph) -> bool:
    """A graph quantized with QuantizeLinear (and no QONNX ``Quant`` node)."""
    ops = {n.op_type for n in graph.nodes}
    return "QuantizeLinear" in ops and "Quant" not in ops


def lower_qdq(g: Graph) -> Lowered:
    return _QdqLowering(g).run()


class _QdqLowering:
    def __init__(self, g: Graph):
        self.g = g
        self.layers: list[LoweredLayer] = []

    def run(self) -> Lowered:
        chw = self.g.image_shape()
        self.hw = chw[1:]
        self.codes = None  # (tensor, scale, IntType) of the last QuantizeLinear
        self.real = None  # the tensor holding DQ(codes)
        self.pending = None  # (layer, its real multiplier s_in * s_w) waiting for its output QuantizeLinear
        self.relu = False
        self.pass_through = None  # the output of the last Relu or Flatten
        self.onnx_type = None  # the ONNX type of the codes (a Relu's uint7 codes are int8 there)
        chain = self.g.chain()
        for node in chain:
            self.step(node)
        if chain[-1].op_type not in ("QuantizeLinear", "DequantizeLinear") or self.relu:
            raise node_error(chain[-1], "the graph ends here unquantized; an int8 QDQ graph ends with its last "
                                        "layer's QuantizeLinear (and DequantizeLinear)")
        if self.pending is not None:
            raise node_error(chain[-1], "the last layer's output is not quantized (no QuantizeLinear after it)")
        if not any(isinstance(l.layer, (ir.Conv, ir.DwConv, ir.FC)) for l in self.layers):
            raise node_error(chain[-1], "the graph has no convolution or fully connected layer")
        return Lowered(tuple(self.layers), chw, ir.Preprocess(), self.g.input.name, quant=ir.MULTIPLIER)

    # --- helpers --------------------------------------------------------------------------

    def _qparams(self, node) -> tuple[np.ndarray, IntType]:
        scale = self.g.const(node.input[1])
        zp = self.g.const(node.input[2]) if len(node.input) > 2 and node.input[2] else np.zeros((), np.uint8)
        if scale is None or zp is None:
            raise node_error(node, "its scale and zero point must be constants")
        if np.any(zp != 0):
            raise node_error(node, "zero point is not 0; mbdsl's multiplier style is symmetric",
                             "quantize with symmetric activations (ActivationSymmetric, WeightSymmetric)")
        types = {np.dtype(np.uint8): U8, np.dtype(np.int8): I8, np.dtype(np.int32): IntType(32, True)}
        if zp.dtype not in types:
            raise node_error(node, f"quantizes to {zp.dtype}; only int8 and uint8 are supported")
        return np.asarray(scale, np.float64), types[zp.dtype]

    def _const_dq(self, node, name: str, what: str, dtype) -> tuple[np.ndarray, np.ndarray]:
        """The integers and scale of a DequantizeLinear of a constant (a weight or a bias)."""
        dq = self.g.producer.get(name)
        ints = None if dq is None or dq.op_type != "DequantizeLinear" else self.g.const(dq.input[0])
        if ints is None:
            raise node_error(node, f"its {what} is not a DequantizeLinear of a constant {np.dtype(dtype).name} tensor")
        if ints.dtype != dtype:
            raise node_error(node, f"its {what} is {ints.dtype}, not {np.dtype(dtype).name}")
        scale, _ = self._qparams(dq)
        axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
        if scale.size > 1 and axis != 0:
            raise node_error(node, f"its {what} is quantized per channel along axis {axis}; only axis 0 is supported")
        return ints.astype(np.int64), scale

    def _input(self, node) -> None:
        if self.real is None or node.input[0] != self.real:
            raise node_error(node, "its input is not a DequantizeLinear of quantized codes")

    # --- the walk -------------------------------------------------------------------------

    def step(self, node) -> None:
        op = node.op_type
        if op == "QuantizeLinear":
            self.quantize(node)
        elif op == "DequantizeLinear":
            if self.codes is None or node.input[0] != self.codes[0]:
                raise node_error(node, "dequantizes a tensor that is not the output of the previous QuantizeLinear")
            scale, t = self._qparams(node)
            if not np.array_equal(scale, self.codes[1]) or t != self.onnx_type:
                raise node_error(node, "its scale or type differs from the QuantizeLinear it undoes")
            self.real = node.output[0]
        elif op in ("Conv", "Gemm"):
            self.mac(node)
        elif op == "GlobalAveragePool":
            self._input(node)
            tensor, scale, t = self.codes
            pool = LoweredLayer(ir.AvgPool(name="", in_type=t), LayerParams(), Site((node.name,), op, tensor))
            self.pending = (pool, float(scale) / (self.hw[0] * self.hw[1]))
            self.hw = (1, 1)
        elif op in ("Relu", "Flatten"):
            self._input(node)
            if op == "Flatten" and self.hw != (1, 1):
                raise node_error(node, "flattens a feature map larger than 1x1; only after a global pool")
            self.relu = self.relu or op == "Relu"
            self.pass_through = node.output[0]
        else:
            raise node_error(node, f"{op} is not supported in an int8 QDQ graph",
                             "supported: QuantizeLinear, DequantizeLinear, Conv, Relu, GlobalAveragePool, Flatten, Gemm")

    def quantize(self, node) -> None:
        scale, t = self._qparams(node)
        if scale.size != 1:
            raise node_error(node, "quantizes an activation per channel; only per-tensor activations are supported")
        if self.codes is None:
            if node.input[0] != self.g.input.name or t != U8 or float(scale) != 1.0:
                raise node_error(node, "the graph input must be quantized to uint8 at scale 1, zero point 0 (the pixels)",
                                 "give the input tensor a quantization override: uint8, scale 1, zero point 0")
        elif self.pending is not None:
            pending, real = self.pending
            site = attrs.evolve(pending.site, out_tensor=node.output[0], out_scale=scale,
                                step=np.asarray(real / scale, np.float64))  # the real multiplier M
            self.layers.append(attrs.evolve(pending, layer=attrs.evolve(pending.layer, act_type=t), site=site))
            self.pending = None
        else:  # after Relu or Flatten: same scale, codes unchanged but for the ReLU's clamp
            if self.pass_through != node.input[0] or not np.array_equal(scale, self.codes[1]) or t != self.onnx_type:
                raise node_error(node, "requantizes to another scale after a Relu or Flatten; "
                                 "mbdsl requantizes once per layer")
            last = self.layers[-1]
            layer = last.layer
            if self.relu:
                if layer.act_type != I8:
                    raise node_error(node, "a Relu must follow a layer's int8 output")
                layer = attrs.evolve(layer, act_type=UINT7)
                self.relu = False
            self.layers[-1] = attrs.evolve(last, layer=layer, site=attrs.evolve(last.site, out_tensor=node.output[0]))
        self.onnx_type = t
        self.codes = (node.output[0], scale, self.layers[-1].layer.act_type if self.layers else t)
        self.real = None

    def mac(self, node) -> None:
        self._input(node)
        tensor, s_in, in_type = self.codes
        wname = node.input[1]
        bname = node.input[2] if len(node.input) > 2 else ""
        w, s_w = self._const_dq(node, wname, "weight", np.int8)
        attrs_ = {a.name: a for a in node.attribute}
        o = w.shape[0]
        if node.op_type == "Gemm":
            if attrs_.get("transB") is None or attrs_["transB"].i != 1 or attrs_.get("transA", None) and attrs_["transA"].i:
                raise node_error(node, "only Gemm with transB=1 (weights as (out, in)) is supported")
            for a in ("alpha", "beta"):
                if a in attrs_ and attrs_[a].f != 1.0:
                    raise node_error(node, f"{a} is not 1")
            layer = ir.FC(name="", out_channels=o, weight_type=I8, act_type=None, in_type=in_type)
        else:
            k = w.shape[2]
            group = attrs_["group"].i if "group" in attrs_ else 1
            strides = list(attrs_["strides"].ints) if "strides" in attrs_ else [1, 1]
            pads = list(attrs_["pads"].ints) if "pads" in attrs_ else [0, 0, 0, 0]
            dil = list(attrs_["dilations"].ints) if "dilations" in attrs_ else [1, 1]
            if w.shape[2] != w.shape[3] or strides[0] != strides[1] or len(set(pads)) != 1 or dil != [1, 1]:
                raise node_error(node, "only square kernels, equal strides, equal pads and no dilation are supported")
            pad, stride = pads[0], strides[0]
            if group == 1:
                layer = ir.Conv(name="", kernel=k, stride=stride, pad=pad, out_channels=o, weight_type=I8, act_type=None,
                                in_type=in_type)
                w = w.transpose(0, 2, 3, 1).copy()
            elif w.shape[1] == 1 and group == o:
                layer = ir.DwConv(name="", kernel=k, stride=stride, pad=pad, weight_type=I8, act_type=None, in_type=in_type)
                w = w[:, 0].copy()
            else:
                raise node_error(node, f"group {group} is neither 1 nor depthwise")
            self.hw = tuple(window_out(d, k, stride, pad) for d in self.hw)
        acc_scale = float(s_in) * np.broadcast_to(s_w, (o,))
        if bname:
            bias, s_b = self._const_dq(node, bname, "bias", np.int32)
            if not np.allclose(np.broadcast_to(s_b, (o,)), acc_scale, rtol=1e-6, atol=0):
                raise node_error(node, "its bias scale is not input scale x weight scale; the bias is not an integer "
                                       "of the accumulator")
        else:
            bias = np.zeros(o, np.int64)
        site = Site((node.name,), node.op_type, tensor)
        self.pending = (LoweredLayer(layer, LayerParams(weights=w, bias=bias.reshape(o)), site), acc_scale)


def set_multipliers(net: ir.Network, layers: tuple[LoweredLayer, ...]) -> tuple[LoweredLayer, ...]:
    """m0 (per channel) and one shift per layer from each layer's real multiplier M (``site.step``):
    the largest shift <= 31 with ``worst * max(m0) + 2**(shift-1)`` inside int32, where
    ``worst`` bounds ``|acc + bias|`` by the layer's accumulator type (of the checked ``net``)."""
    checked = {layer.name: layer for layer in net.layers}
    out = []
    for low in layers:
        if low.site.step is None:
            out.append(low)
            continue
        name = low.layer.name
        layer = checked[name]
        if isinstance(layer, ir.AvgPool):  # the sum of H*W inputs, as mbdsl.params bounds it
            t = layer.in_type
            worst = layer.in_shape.h * layer.in_shape.w * max(abs(t.min), abs(t.max))
        else:
            worst = worst_abs(layer.acc_type, low.params.bias)
        m = np.atleast_1d(low.site.step)
        for shift in range(31, -1, -1):
            m0 = np.rint(m * (1 << shift)).astype(np.int64)
            rnd = (1 << (shift - 1)) if shift else 0
            if worst * int(m0.max()) + rnd <= INT32_LIMIT:
                break
        if worst * int(m0.max()) + rnd > INT32_LIMIT:
            raise QonnxImportError(
                f"layer '{name}' ({low.site.nodes[0]}): its multiplier {float(m.max()):.3g} times |acc + bias| up to {worst} "
                "does not fit 32 bits even at shift 0",
            )
        if m0.min() < 1:
            c = int(np.argmin(m0))
            raise QonnxImportError(
                f"layer '{name}' ({low.site.nodes[0]}): channel {c}'s multiplier {m[c]:.3g} is below 1/2^{shift} "
                "at the largest shift that keeps the product inside 32 bits",
            )
        m0 = int(m0[0]) if np.ndim(low.site.step) == 0 else m0
        out.append(attrs.evolve(low, params=attrs.evolve(low.params, m0=m0, shift=shift)))
    return tuple(out)
