"""The data path of a QONNX graph -> mbdsl layers with exact integer parameters.

The walk keeps what the current tensor *is* in integer terms (its state):

- :class:`Pixels`: the raw u8 image after float preprocessing,
  ``value[c] = (pixel * scale - mean[c]) / std[c]`` (Div/Mul/Sub/Add on the input);
- :class:`Codes`: integer codes of a type, ``value[c] = scale[c] * code``;
- :class:`Acc`: a MAC layer's integer accumulator through a float affine,
  ``y[c] = a[c] * (s[c] * acc + o[c]) + b[c]`` (conv scale and bias, then BatchNorm,
  Mul, Add), optionally through a ReLU;
- :class:`Sum`: a global pool's integer sum, ``value[c] = f[c] * sum``.

A Quant node on an :class:`Acc` ends a layer: :func:`mbdsl.preprocess.fold_thresholds`
turns the float affine and the quantizer into thresholds on the accumulator (channels of
negative slope get their weights negated). A Trunc node on a :class:`Sum` ends a pool.
The last fully connected layer may stay raw (logits ``A * (acc + bias)``, one positive
``A`` for every class) before a TopK/ArgMax. Anything else is refused with an error
naming the node and the reason.
"""

from __future__ import annotations

import attrs
import numpy as np

from ..dtypes import UINT8, IntType, bits_for_range
from ..ir import Preprocess
from ..preprocess import fold_thresholds, preprocess_affine
from ..semantics import accumulator_range, window_out
from ._errors import node_error
from ._graph import QUANT_DOMAINS, ROUNDING_MODES, Graph, attr, quant_type

__all__ = ["Record", "Lowered", "lower", "MAX_BITS"]

MAX_BITS = 8
"""Widest weight or activation type a spec may declare."""

_PASS_THROUGH = {"Identity", "Dropout"}
_FINAL = {"TopK", "ArgMax", "Softmax", "LogSoftmax"}


@attrs.define(eq=False)
class Record:
    """One layer of the spec to write, with its parameters and where QONNX computes it."""

    kind: str  # conv, dwconv, fc, avgpool, topk
    nodes: list[str]
    in_type: IntType
    op: str = ""  # the ONNX op type of the first node
    kernel: int = 1
    stride: int = 1
    pad: int = 0
    out_channels: int = 0
    weight_type: IntType | None = None
    act_type: IntType | None = None
    weights: np.ndarray | None = None
    thresholds: np.ndarray | None = None
    bias: np.ndarray | None = None
    shift: int | None = None
    k: int = 0
    name: str = ""
    # Where QONNX computes it (for verification): the tensor of the codes entering the
    # layer and their scale (None: the raw image), the output tensor and its scale, the
    # quantizer's input tensor, step and rounding (ties are counted there).
    in_tensor: str = ""
    in_scale: np.ndarray | None = None
    out_tensor: str = ""
    out_scale: np.ndarray | None = None
    pre_tensor: str | None = None
    step: np.ndarray | None = None
    rounding: str | None = None
    logit_scale: float | None = None
    negated: int = 0
    m0: int | np.ndarray | None = None  # int8 QDQ graphs: m0 / 2**shift ~ step (there the real multiplier M)


@attrs.frozen(eq=False)
class Lowered:
    """The imported layers, the input (C, H, W) and its folded preprocessing."""

    records: list[Record]
    input_chw: tuple[int, int, int]
    preprocess: Preprocess
    input_name: str
    quant: str = "thresholds"  # "multiplier" for int8 QDQ graphs


@attrs.define
class Pixels:
    scale: float
    mean: np.ndarray
    std: np.ndarray
    shape: tuple[int, int, int]

    def preprocess(self) -> Preprocess:
        return Preprocess(float(self.scale), tuple(float(m) for m in self.mean), tuple(float(s) for s in self.std))

    @property
    def plain(self) -> bool:
        return bool(np.all(self.mean == 0) and np.all(self.std == 1))


@attrs.define
class Codes:
    type: IntType
    scale: np.ndarray  # (C,)
    shape: tuple[int, int, int]
    tensor: str
    flat: bool = False


@attrs.define
class Acc:
    rec: Record
    s: np.ndarray
    o: np.ndarray
    a: np.ndarray
    b: np.ndarray
    shape: tuple  # (C, H, W) or (O,) for fc
    tensor: str
    relu: bool = False
    mac_node: object = None


@attrs.define
class Sum:
    n: int
    f: np.ndarray
    in_type: IntType
    shape: tuple[int, int, int]
    rec: Record


def lower(g: Graph) -> Lowered:
    """Walk the graph's data path and build the layer records (see the module docs)."""
    return _Lowering(g).run()


class _Lowering:
    def __init__(self, g: Graph):
        self.g = g
        self.records: list[Record] = []

    # --- driver -------------------------------------------------------------------------

    def run(self) -> Lowered:
        shape = self.g.input_shape()
        if len(shape) != 4 or shape[0] != 1:
            raise node_error(
                f"graph input '{self.g.input.name}'",
                f"has shape {list(shape)}; an image input is (1, C, H, W)",
                "export with a batch of one NCHW image",
            )
        chw = tuple(int(d) for d in shape[1:])
        state = Pixels(1.0, np.zeros(chw[0]), np.ones(chw[0]), chw)
        self.first_pre = None
        chain = self.g.chain()
        if not chain:
            raise node_error(f"graph input '{self.g.input.name}'", "feeds no node")
        for i, node in enumerate(chain):
            state = self.step(state, node, chain[i + 1 :])
        state = self.finish(state, chain[-1])
        if not any(r.kind in ("conv", "dwconv", "fc") for r in self.records):
            raise node_error(chain[-1], "the graph has no convolution or fully connected layer")
        return Lowered(self.records, chw, self.first_pre or Preprocess(), self.g.input.name)

    def step(self, state, node, rest):
        op = node.op_type
        if op in _PASS_THROUGH:
            if isinstance(state, Acc) or isinstance(state, Codes) and not state.flat:
                return attrs.evolve(state, tensor=node.output[0])
            return state
        if node.domain in QUANT_DOMAINS and op in ("BipolarQuant", "QuantAvgPool2d", "MultiThreshold"):
            raise node_error(node, f"{op} is not supported", _HINTS.get(op))
        if node.domain not in ("", "ai.onnx") and node.domain not in QUANT_DOMAINS:
            raise node_error(node, f"custom op of domain '{node.domain}' is not supported")
        if isinstance(state, Pixels):
            return self.on_pixels(state, node)
        if isinstance(state, Codes):
            return self.on_codes(state, node, rest)
        if isinstance(state, Acc):
            return self.on_acc(state, node, rest)
        return self.on_sum(state, node)

    # --- preprocessing ------------------------------------------------------------------

    def on_pixels(self, st: Pixels, node):
        op = node.op_type
        if op in ("Mul", "Div", "Add", "Sub"):
            c, data_first = self.operand(node, st.shape, flat=False)
            if op in ("Sub", "Div") and not data_first:
                raise node_error(node, f"the image is the second operand of {op}", "write x - c or x / c")
            if op in ("Mul", "Div"):
                if np.any(c <= 0):
                    raise node_error(node, "the preprocessing scales pixels by a non-positive factor")
                f = c if op == "Mul" else 1.0 / c
                uniform = np.all(f == f[0])
                if st.plain and uniform:
                    return attrs.evolve(st, scale=st.scale * float(f[0]))
                return attrs.evolve(st, std=st.std / f)
            m = c if op == "Sub" else -c
            return attrs.evolve(st, mean=st.mean + m * st.std)
        if op == "Quant":
            return self.quant_pixels(st, node)
        if op in ("Conv", "Gemm", "MatMul"):
            self.first_pre = st.preprocess()
            return self.start_mac(st, node)
        if op in ("Flatten", "Reshape"):
            raise node_error(node, "a fully connected first layer on a flattened image is not supported",
                             "start the network with a convolution")
        raise self.unsupported(node, "on the input image")

    def quant_pixels(self, st: Pixels, node):
        """A Quant on the preprocessed image: allowed where it is exact on every u8 pixel,
        i.e. its code is the pixel plus a per-channel offset."""
        scale, step, tp, mode = self.quant_params(node, st.shape, flat=False)
        p = np.arange(256, dtype=np.float32)
        mean = st.mean.astype(np.float32)[:, None]
        std = st.std.astype(np.float32)[:, None]
        v = (p[None, :] * np.float32(st.scale) - mean) / std
        q = np.clip(v / step.astype(np.float32)[:, None], tp.min, tp.max)
        codes = np.round(q) if mode != "floor" else np.floor(q)
        off = codes - p[None, :]
        if not np.all(off == off[:, :1]):
            raise node_error(
                node,
                "it quantizes the preprocessed image non-linearly (its code is not the raw pixel plus a constant)",
                "the first layer takes raw u8 pixels: quantize the input to 8 bits with scale = the preprocessing's, "
                "or drop this Quant",
            )
        return _pixels_after_quant(st, step, off[:, 0])

    # --- codes --------------------------------------------------------------------------

    def on_codes(self, st: Codes, node, rest):
        op = node.op_type
        if op in ("Conv", "Gemm", "MatMul"):
            return self.start_mac(st, node)
        if op in ("Flatten", "Reshape"):
            # Keep the 4-D tensor's name: verification reads its codes in (C, H, W).
            return attrs.evolve(st, flat=True)
        if op in ("AveragePool", "GlobalAveragePool", "ReduceMean"):
            return self.start_pool(st, node)
        if op == "Relu":
            if st.type.signed:
                raise node_error(node, f"a ReLU on signed {st.type} codes without a Quant after it is not supported",
                                 "quantize after the ReLU (QuantReLU)")
            return attrs.evolve(st, tensor=node.output[0])
        if op == "Quant":
            scale, step, tp, mode = self.quant_params(node, st.shape, flat=st.flat)
            if np.array_equal(step, st.scale) and tp.min <= st.type.min and tp.max >= st.type.max:
                # Re-quantizes to the same grid: a no-op (a flattened tensor keeps its 4-D name).
                return st if st.flat else attrs.evolve(st, tensor=node.output[0])
            raise node_error(node, "it re-quantizes integer codes to another grid, which mbdsl cannot do exactly",
                             "quantize once, after the layer's accumulator (BatchNorm, ReLU, then Quant)")
        if op == "Mul":
            c, _ = self.operand(node, st.shape, flat=st.flat)
            if np.any(c <= 0):
                raise node_error(node, "multiplying codes by a non-positive constant is not supported")
            return attrs.evolve(st, scale=st.scale * c, tensor=node.output[0])
        if op in _FINAL:
            return self.final(st, node, rest)
        raise self.unsupported(node, f"on {st.type} codes")

    # --- MAC layers ---------------------------------------------------------------------

    def start_mac(self, st, node) -> Acc:
        first = isinstance(st, Pixels)
        in_type = UINT8 if first else st.type
        c, h, w = st.shape
        in_tensor = self.g.input.name if first else st.tensor
        if node.op_type == "Conv":
            if not first and st.flat:
                raise node_error(node, "a convolution after a Flatten/Reshape is not supported")
            rec, ws, bias = self.conv(node, in_type, (c, h, w))
            out_shape = (rec.out_channels, window_out(h, rec.kernel, rec.stride, rec.pad), window_out(w, rec.kernel, rec.stride, rec.pad))
        else:
            rec, ws, bias = self.fc(node, in_type, (c, h, w))
            out_shape = (rec.out_channels,)
        rec.in_tensor = in_tensor
        rec.in_scale = None if first else st.scale
        rec.op = node.op_type
        if first:
            w_dense = _dense(rec)
            try:
                s, o = preprocess_affine(w_dense, ws, st.preprocess(), rec.pad)
            except ValueError as e:
                raise node_error(node, f"the input preprocessing cannot be folded exactly: {e}") from None
        else:
            if rec.kind == "dwconv":
                s = ws * st.scale
            else:
                if not np.all(st.scale == st.scale[0]):
                    raise node_error(
                        node,
                        f"its input codes have a different scale per channel ({_show(st.scale)}); a dense layer "
                        "mixes channels, so its accumulator is not one integer times one scale",
                        "use a per-tensor activation scale before dense layers (per-channel scales are fine before "
                        "depthwise ones)",
                    )
                s = ws * float(st.scale[0])
            o = np.zeros(rec.out_channels)
        o = o + bias
        n = rec.out_channels
        return Acc(rec, np.asarray(s, float), np.asarray(o, float), np.ones(n), np.zeros(n), out_shape,
                   node.output[0], mac_node=node)

    def conv(self, node, in_type: IntType, chw):
        c, h, w = chw
        q = self.weights(node, 1)
        ints = q.ints
        if ints.ndim != 4:
            raise node_error(node, f"only 2-D convolutions are supported (weights of shape {list(ints.shape)})")
        o, ig, kh, kw = ints.shape
        group = int(attr(node, "group", 1))
        dil = attr(node, "dilations", [1, 1])
        if any(d != 1 for d in dil):
            raise node_error(node, f"dilation {list(dil)} is not supported", "use dilation 1")
        strides = attr(node, "strides", [1, 1])
        if len(set(strides)) != 1:
            raise node_error(node, f"strides {list(strides)} differ between height and width", "use one stride")
        if kh != kw:
            raise node_error(node, f"the {kh}x{kw} kernel is not square", "use a KxK kernel")
        k, stride = kh, int(strides[0])
        pad = self.padding(node, k, stride, h, w)
        ws = _out_scale(node, q, axis=0)
        wt = _weight_type(node, q.type)
        if group == 1:
            if ig != c:
                raise node_error(node, f"the weights take {ig} input channels, the input has {c}")
            rec = Record("conv", [node.name], in_type, kernel=k, stride=stride, pad=pad, out_channels=o,
                         weight_type=wt, weights=ints.transpose(0, 2, 3, 1).copy())
        elif group == c and o == c and ig == 1:
            rec = Record("dwconv", [node.name], in_type, kernel=k, stride=stride, pad=pad, out_channels=o,
                         weight_type=wt, weights=ints[:, 0].copy())
        else:
            raise node_error(node, f"grouped convolution with group={group} ({c} -> {o} channels) is not supported",
                             "use group=1 (dense) or group=channels with as many outputs (depthwise)")
        if k > h + 2 * pad or k > w + 2 * pad:
            raise node_error(node, f"the {k}x{k} kernel does not fit its {h}x{w} input")
        bias = self._bias(node, 2, o)
        return rec, ws, bias

    def padding(self, node, k: int, stride: int, h: int, w: int) -> int:
        """One symmetric padding equivalent to the node's (explicit or auto) padding."""
        auto = str(attr(node, "auto_pad", "NOTSET"))
        if auto in ("NOTSET", ""):
            pads = list(attr(node, "pads", [0, 0, 0, 0]))
        elif auto == "VALID":
            pads = [0, 0, 0, 0]
        elif auto in ("SAME_UPPER", "SAME_LOWER"):
            pads = []
            for size in (h, w):
                out = -(-size // stride)
                total = max(0, (out - 1) * stride + k - size)
                small, big = total // 2, total - total // 2
                pads.append((small, big) if auto == "SAME_UPPER" else (big, small))
            pads = [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]
        else:
            raise node_error(node, f"auto_pad {auto} is not supported")
        top, left, bottom, right = (int(p) for p in pads)
        if top != left:
            raise node_error(node, f"padding {pads} (top, left, bottom, right) differs between height and width",
                             "use the same padding on every side")
        p = top
        # Padding at the end that no window reaches changes nothing: accept it when the
        # output size is that of symmetric padding p.
        for size, end in ((h, bottom), (w, right)):
            if (size + p + end - k) // stride != (size + 2 * p - k) // stride:
                raise node_error(
                    node,
                    f"asymmetric padding {pads} (top, left, bottom, right) is not supported",
                    "use the same padding on every side (e.g. padding=1 for a 3x3 kernel)",
                )
        if p >= k and k > 1 or (k == 1 and p > 0):
            raise node_error(node, f"padding {p} is not smaller than the {k}x{k} kernel")
        return p

    def fc(self, node, in_type: IntType, chw):
        c, h, w = chw
        q = self.weights(node, 1)
        if q.ints.ndim != 2:
            raise node_error(node, f"the weights have shape {list(q.ints.shape)}; a fully connected layer takes 2-D weights")
        if node.op_type == "Gemm":
            if attr(node, "transA", 0):
                raise node_error(node, "transA=1 is not supported")
            if not attr(node, "transB", 0):
                q = q.transpose((1, 0))
            alpha, beta = float(attr(node, "alpha", 1.0)), float(attr(node, "beta", 1.0))
        else:
            q = q.transpose((1, 0))
            alpha, beta = 1.0, 1.0
        if alpha <= 0:
            raise node_error(node, f"alpha {alpha} must be positive")
        o, i = q.ints.shape
        if i != c * h * w:
            raise node_error(node, f"the weights take {i} inputs, the input has {c}x{h}x{w} = {c * h * w}")
        ints = q.ints
        if h * w > 1:  # ONNX flattens (C, H, W); mbdsl streams (H, W, C)
            ints = ints.reshape(o, c, h, w).transpose(0, 2, 3, 1).reshape(o, -1)
        ws = _out_scale(node, q, axis=0) * alpha
        rec = Record("fc", [node.name], in_type, out_channels=o, weight_type=_weight_type(node, q.type), weights=ints.copy())
        bias = self._bias(node, 2, o) * beta if node.op_type == "Gemm" else np.zeros(o)
        return rec, ws, bias

    def weights(self, node, index: int):
        name = node.input[index] if len(node.input) > index else ""
        q = self.g.qconst(name)
        if q is None:
            raw = self.g.const(name)
            if raw is not None:
                raise node_error(node, "its weights are float, not quantized (no Quant node on the weight input)",
                                 "quantize the weights (Brevitas QuantConv2d / QuantLinear) and export with QONNX")
            raise node_error(node, f"its weight input '{name}' is not a constant")
        return q

    def _bias(self, node, index: int, n: int) -> np.ndarray:
        if len(node.input) <= index or not node.input[index]:
            return np.zeros(n)
        v = self.g.const(node.input[index])
        if v is None:
            raise node_error(node, f"its bias '{node.input[index]}' is not a constant")
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        if v.size == 1:
            v = np.full(n, v[0])
        if v.size != n:
            raise node_error(node, f"its bias has {v.size} values for {n} outputs")
        return v

    # --- after a MAC --------------------------------------------------------------------

    def on_acc(self, st: Acc, node, rest):
        op = node.op_type
        ch = st.shape[0]
        if op == "BatchNormalization":
            if st.relu:
                raise node_error(node, "a BatchNormalization after a ReLU is not supported", "put the BatchNorm before the ReLU")
            gamma, beta, mean, var = (self.const_vec(node, i, ch, vector=True) for i in range(1, 5))
            eps = float(attr(node, "epsilon", 1e-5))
            a = gamma / np.sqrt(var + eps)
            return self.affine(st, node, a, beta - a * mean)
        if op in ("Mul", "Div", "Add", "Sub"):
            if st.relu:
                raise node_error(node, f"{op} after a ReLU (before the Quant) is not supported")
            c, data_first = self.operand(node, st.shape, flat=len(st.shape) == 1)
            if op in ("Sub", "Div") and not data_first:
                raise node_error(node, f"the accumulator is the second operand of {op}")
            if op == "Mul":
                return self.affine(st, node, c, 0.0)
            if op == "Div":
                return self.affine(st, node, 1.0 / c, 0.0)
            return self.affine(st, node, 1.0, c if op == "Add" else -c)
        if op == "Relu":
            return attrs.evolve(st, relu=True, tensor=node.output[0])
        if op in ("Flatten", "Reshape"):
            return attrs.evolve(st, tensor=node.output[0])
        if op == "Quant":
            return self.activation(st, node)
        if op in _FINAL:
            return self.final(self.raw(st, node), node, rest)
        raise self.unsupported(node, "after a convolution or fully connected layer")

    def affine(self, st: Acc, node, a, b) -> Acc:
        a = np.broadcast_to(np.asarray(a, float), st.a.shape)
        with np.errstate(all="ignore"):
            new_a, new_b = a * st.a, a * st.b + b
        if not (np.all(np.isfinite(new_a)) and np.all(np.isfinite(new_b))):
            raise node_error(node, "its constants make the scale or offset infinite or not a number",
                             "export the model again: a constant holds nan or inf, or is out of range")
        return attrs.evolve(st, a=new_a, b=new_b, tensor=node.output[0], rec=_with_node(st.rec, node))

    def activation(self, st: Acc, node) -> Codes:
        rec = st.rec
        flat = len(st.shape) == 1
        scale, step, tp, mode = self.quant_params(node, st.shape, flat=flat)
        out = tp
        if st.relu and tp.signed:
            if tp.bits < 2:
                raise node_error(node, "a ReLU before a 1-bit signed Quant leaves one code")
            out = IntType(tp.bits - 1, False)  # ReLU then a signed quantizer: codes 0..max
        if out.bits > MAX_BITS:
            raise node_error(node, f"activations of {tp.bits} bits are not supported", f"use 2 to {MAX_BITS} bits")
        fan_in = int(np.prod(rec.weights.shape[1:]))
        rng = accumulator_range(fan_in, rec.weight_type, rec.in_type)
        uniform = bool(np.all(step == step[0]))
        a, b = (st.a, st.b) if uniform else (st.a / step, st.b / step)
        folded = fold_thresholds(st.s, st.o, out, rng, a=a, b=b, step=float(step[0]) if uniform else 1.0,
                                 rounding=mode)
        w = rec.weights.copy()
        if np.any(folded.negate):
            w[folded.negate] *= -1
            if not rec.weight_type.allowed(w):
                bad = sorted(set(np.nonzero((w < rec.weight_type.min) | (w > rec.weight_type.max))[0].tolist()))
                raise node_error(
                    st.mac_node,
                    f"output channels {bad[:8]} have a negative slope (BatchNorm gamma or scale < 0), so their "
                    f"weights must be negated, but then leave {rec.weight_type}",
                    "quantize the weights with narrow range (e.g. int8 narrow: -127..127)",
                )
        rec.weights, rec.thresholds, rec.act_type = w, folded.thresholds, out
        rec.negated = int(np.count_nonzero(folded.negate))
        rec.pre_tensor, rec.step, rec.rounding = node.input[0], step, mode
        rec.out_tensor, rec.out_scale = node.output[0], step
        rec.nodes.append(node.name)
        self.records.append(rec)
        shape = st.shape if len(st.shape) == 3 else (st.shape[0], 1, 1)
        return Codes(out, step, shape, node.output[0], flat=flat)

    def raw(self, st: Acc, node) -> Codes:
        """The last fully connected layer without an activation: integer logits."""
        rec = st.rec
        if rec.kind != "fc":
            raise node_error(st.mac_node, "the network ends on a convolution without a Quant",
                             "end with a fully connected layer (Gemm/MatMul), or quantize the convolution's output")
        if st.relu:
            raise node_error(node, "a ReLU on the logits without a Quant is not supported")
        big_a = st.a * st.s
        big_b = st.a * st.o + st.b
        if np.any(big_a <= 0):
            raise node_error(st.mac_node, "the logits have a non-positive scale for some classes",
                             "use positive weight scales on the last layer")
        if not np.allclose(big_a, big_a[0], rtol=1e-6, atol=0):
            raise node_error(
                st.mac_node,
                f"the logits have a different scale per class ({_show(big_a)}); the class ranking of the integer "
                "accumulators would differ",
                "use a per-tensor weight scale on the last layer (Brevitas CommonIntWeightPerTensorQuant)",
            )
        scale = float(big_a[0])
        bias = big_b / scale
        ib = np.rint(bias)
        if np.any(np.abs(bias - ib) > 1e-3 + 1e-6 * np.abs(bias)):
            worst = int(np.argmax(np.abs(bias - ib)))
            raise node_error(
                st.mac_node,
                f"its bias is not an integer multiple of the accumulator scale {scale:.6g} (class {worst}: "
                f"{bias[worst]:.6g} steps); it cannot be made integer",
                "quantize the bias with scale = input scale x weight scale (Brevitas IntBias)",
            )
        rec.bias = ib.astype(np.int64) if np.any(ib != 0) else None
        rec.logit_scale = scale
        rec.out_tensor = st.tensor
        self.records.append(rec)
        return Codes(_acc_type(rec), np.full(rec.out_channels, scale), (rec.out_channels, 1, 1), st.tensor, flat=True)

    def final(self, st: Codes, node, rest):
        """TopK / ArgMax (and a Softmax in front of them) on class scores."""
        op = node.op_type
        if st.shape[1] * st.shape[2] != 1:
            raise node_error(node, f"it ranks a {st.shape[1]}x{st.shape[2]} feature map, not a vector of class scores")
        if not np.all(st.scale == st.scale[0]):
            raise node_error(node, "the class scores have a different scale per class; integer ranking would differ")
        if op in ("Softmax", "LogSoftmax"):
            if not rest or rest[0].op_type not in ("TopK", "ArgMax"):
                raise node_error(node, f"{op} is only supported before TopK or ArgMax (it keeps their order)",
                                 "end the graph with TopK, ArgMax, or the logits")
            return attrs.evolve(st, tensor=node.output[0])
        n = st.shape[0]
        if op == "ArgMax":
            if int(attr(node, "select_last_index", 0)):
                raise node_error(node, "select_last_index=1 is not supported (ties go to the lower index)")
            k = 1
        else:
            kv = self.g.const(node.input[1]) if len(node.input) > 1 else attr(node, "k")
            if kv is None:
                raise node_error(node, "its k is not a constant")
            kv = np.asarray(kv).reshape(-1)
            if kv.size != 1 or not np.isfinite(kv[0]):
                raise node_error(node, f"its k is not one number ({_show(kv) if kv.size else 'empty'})")
            k = int(kv[0])
            if not int(attr(node, "largest", 1)):
                raise node_error(node, "largest=0 (the k smallest) is not supported")
            if not int(attr(node, "sorted", 1)):
                raise node_error(node, "sorted=0 is not supported")
        axis = int(attr(node, "axis", -1 if op == "TopK" else 0))
        if axis not in (-1, 1):
            raise node_error(node, f"axis {axis} is not the class axis", "rank along axis 1 (or -1)")
        if not 1 <= k <= n:
            raise node_error(node, f"k = {k} for {n} classes")
        rec = Record("topk", [node.name], st.type, k=k, in_tensor=st.tensor, in_scale=st.scale,
                     out_tensor=node.output[1] if op == "TopK" and len(node.output) > 1 else node.output[0])
        if op == "TopK" and node.output[0] in self.g.outputs and (len(node.output) < 2 or node.output[1] not in self.g.outputs):
            raise node_error(node, "the graph outputs TopK's values; mbdsl's topk outputs the class indices",
                             "make the indices (TopK's second output) the graph output")
        self.records.append(rec)
        return "done"

    # --- pool ---------------------------------------------------------------------------

    def start_pool(self, st: Codes, node) -> Sum:
        c, h, w = st.shape
        if st.flat:
            raise node_error(node, "pooling after a Flatten/Reshape is not supported")
        if node.op_type == "AveragePool":
            k = list(attr(node, "kernel_shape"))
            pads = list(attr(node, "pads", [0, 0, 0, 0]))
            if k != [h, w] or any(pads):
                raise node_error(node, f"only a global average pool is supported (kernel {k} over a {h}x{w} input, "
                                       f"pads {pads})", "pool over the whole feature map (e.g. AvgPool2d(7) on 7x7)")
        elif node.op_type == "ReduceMean":
            axes = attr(node, "axes")
            if axes is None and len(node.input) > 1:
                axes = self.g.const(node.input[1])
            if axes is None or sorted(int(a) % 4 for a in axes) != [2, 3]:
                raise node_error(node, "only a mean over both spatial axes (2, 3) is supported")
            if not attr(node, "keepdims", 1):
                raise node_error(node, "keepdims=0 is not supported")
        n = h * w
        rec = Record("avgpool", [node.name], st.type, in_tensor=st.tensor, in_scale=st.scale)
        return Sum(n, st.scale / n, st.type, (c, 1, 1), rec)

    def on_sum(self, st: Sum, node):
        op = node.op_type
        if op == "Mul":
            c, _ = self.operand(node, st.shape, flat=False)
            st.rec.nodes.append(node.name)
            return attrs.evolve(st, f=st.f * c)
        if op == "Trunc":
            return self.trunc(st, node)
        if op == "Quant":
            raise node_error(node, "it re-quantizes a float average; mbdsl pools by truncating the integer sum",
                             "use Brevitas TruncAvgPool2d (AveragePool, Mul by the kernel area, Trunc)")
        raise self.unsupported(node, "after an average pool", "follow the pool with Mul (kernel area) and Trunc")

    def trunc(self, st: Sum, node) -> Codes:
        ch = st.shape[0]
        # As qonnx: the version is the model's opset of the node's domain (v1: 5 inputs, v2: 6).
        version = 2 if self.g.opsets.get(node.domain, 1) >= 2 else 1
        if len(node.input) != 4 + version:
            raise node_error(node, f"Trunc version {version} (opset {self.g.opsets.get(node.domain, 1)} of domain "
                                   f"'{node.domain}') takes {4 + version} inputs, not {len(node.input)}")
        scale = self.const_vec(node, 1, ch)
        zeropt = self.const_vec(node, 2, ch)
        in_bits = self.const_scalar(node, 3)
        out_bits = self.const_scalar(node, len(node.input) - 1)
        if np.any(zeropt != 0):
            raise node_error(node, "a non-zero zero point is not supported")
        mode = str(attr(node, "rounding_mode", "FLOOR")).upper()
        if mode != "FLOOR":
            raise node_error(node, f"rounding mode {mode} is not supported", "mbdsl truncates the pool's sum (FLOOR)")
        if not np.allclose(st.f, scale, rtol=1e-5, atol=0):
            raise node_error(
                node,
                f"its scale ({_show(scale)}) is not that of the pooled sum ({_show(st.f)}): it would not see the integer sum",
                "multiply the average by the kernel area before the Trunc (as Brevitas TruncAvgPool2d exports it)",
            )
        it = st.in_type
        lo, hi = st.n * it.min, st.n * it.max
        if not all(np.isfinite(b) and b == int(b) and b >= 1 for b in (in_bits, out_bits)):
            raise node_error(node, f"bit widths {in_bits} and {out_bits} are not whole numbers of bits")
        if version == 1:  # v1: drop in_bits - out_bits bits, keep the input scale
            shift = int(in_bits) - int(out_bits)
            if shift != in_bits - out_bits or shift < 0:
                raise node_error(node, f"input bit width {in_bits} and output bit width {out_bits} give no shift")
            out_scale = scale
            want = IntType(int(out_bits), it.signed)
            out = want if want.min <= lo >> shift and hi >> shift <= want.max else bits_for_range(lo >> shift, hi >> shift)
        else:  # v2: the shift is log2(output_scale / scale); clamp to the output type
            out_scale = self.const_vec(node, 4, ch)
            shifts = np.round(np.log2(out_scale / scale))
            if not np.all(shifts == shifts[0]) or shifts[0] < 0:
                raise node_error(node, f"output scale / scale = {_show(out_scale / scale)} is not one power of two >= 1")
            shift = int(shifts[0])
            signed, narrow = bool(attr(node, "signed", 1)), bool(attr(node, "narrow", 0))
            out = quant_type(node, out_bits, signed, narrow)
            if not signed and narrow and (hi >> shift) > out.max - 1:
                raise node_error(node, "an unsigned narrow-range Trunc that clips at 2^bits - 2 is not supported")
        if out.bits > MAX_BITS:
            raise node_error(node, f"the pool outputs {out} codes; at most {MAX_BITS} bits are supported")
        if shift > 31:
            raise node_error(node, f"shift {shift} is larger than 31")
        rec = st.rec
        rec.shift, rec.act_type = shift, out
        rec.out_tensor, rec.out_scale = node.output[0], np.asarray(out_scale, float)
        rec.nodes.append(node.name)
        self.records.append(rec)
        return Codes(out, np.asarray(out_scale, float), st.shape, node.output[0])

    # --- end ----------------------------------------------------------------------------

    def finish(self, state, last):
        if state == "done":
            return state
        if isinstance(state, Acc):
            self.raw(state, last)
            return "done"
        if isinstance(state, Sum):
            raise node_error(last, "the graph ends on an average pool without a Trunc")
        if isinstance(state, Pixels):
            raise node_error(last, "the graph ends before any layer")
        return state

    # --- helpers ------------------------------------------------------------------------

    def quant_params(self, node, shape, flat: bool):
        """(scale (C,), step (C,), type, rounding) of an activation Quant node."""
        if node.domain not in QUANT_DOMAINS:
            raise node_error(node, f"Quant of domain '{node.domain}' is not QONNX's")
        ch = shape[0]
        scale = self.const_vec(node, 1, ch, shape=shape, flat=flat)
        zeropt = self.const_vec(node, 2, ch, shape=shape, flat=flat)
        bits = self.const_scalar(node, 3)
        if np.any(zeropt != 0):
            raise node_error(node, "a non-zero zero point is not supported (mbdsl integers are symmetric)",
                             "quantize with zero_point = 0")
        if np.any(scale <= 0) or not np.all(np.isfinite(scale)):
            raise node_error(node, "the scale must be positive and finite")
        signed, narrow = bool(attr(node, "signed", 1)), bool(attr(node, "narrow", 0))
        tp = quant_type(node, bits, signed, narrow)
        if tp.bits == 1 and signed:
            raise node_error(node, "1-bit signed (bipolar) activations are not supported", "use 2 to 8 bits")
        if not signed and narrow:
            raise node_error(node, "unsigned narrow-range activations (0 .. 2^bits - 2) are not supported",
                             "use narrow=0 for unsigned activations")
        if tp.bits > MAX_BITS:
            raise node_error(node, f"activations of {tp.bits} bits are not supported", f"use 2 to {MAX_BITS} bits")
        mode = str(attr(node, "rounding_mode", "ROUND")).upper()
        if mode not in ROUNDING_MODES:
            raise node_error(node, f"rounding mode {mode} is not supported", f"use one of {', '.join(ROUNDING_MODES)}")
        return scale, scale, tp, ROUNDING_MODES[mode]

    def const_vec(self, node, index: int, ch: int, shape=None, flat: bool = False, vector: bool = False) -> np.ndarray:
        """A constant input as one value per channel; ``vector``: a (C,) array (BatchNorm)."""
        v = self.g.const(node.input[index]) if len(node.input) > index else None
        if v is None:
            raise node_error(node, f"its input {index} ('{node.input[index] if len(node.input) > index else ''}') is not a constant")
        if vector and np.asarray(v).shape == (ch,):
            return np.asarray(v, dtype=np.float64)
        return _channel_vector(node, v, ch, flat)

    def const_scalar(self, node, index: int) -> float:
        v = self.g.const(node.input[index])
        if v is None or np.asarray(v).size != 1:
            raise node_error(node, f"its input {index} must be a constant scalar")
        return float(np.asarray(v).reshape(()))

    def operand(self, node, shape, flat: bool):
        """The constant operand of a binary node, per channel, and whether data comes first."""
        a, b = node.input[0], node.input[1]
        ca, cb = self.g.const(a), self.g.const(b)
        if ca is not None and cb is not None or ca is None and cb is None:
            raise node_error(node, "one operand must be a constant, the other the data")
        return _channel_vector(node, cb if cb is not None else ca, shape[0], flat), cb is not None

    def unsupported(self, node, where: str, hint: str | None = None):
        return node_error(node, f"{node.op_type} is not supported {where}", hint or _HINTS.get(node.op_type))


_HINTS = {
    "MaxPool": "mbdsl networks pool by a global average (TruncAvgPool2d)",
    "Add": "residual connections are not supported",
    "Concat": "branches are not supported",
    "Clip": "use QuantReLU (ReLU then an unsigned Quant) instead of a clipped ReLU",
    "QuantAvgPool2d": "export with QONNX (AveragePool, Mul, Trunc) instead of the FINN-ONNX format",
    "MultiThreshold": "import the QONNX export, not a FINN-streamlined graph",
    "BipolarQuant": "use 2 to 8 bit quantizers",
    "Sigmoid": "quantized ReLU activations are the supported nonlinearity",
}


def _pixels_after_quant(st: Pixels, step: np.ndarray, off: np.ndarray) -> Pixels:
    """The image after an exact input Quant: value = step * (pixel + off)."""
    mean = -off.astype(np.float64)
    if np.all(step == step[0]):
        return Pixels(float(step[0]), mean * float(step[0]), np.ones_like(mean), st.shape)
    return Pixels(1.0, mean, 1.0 / step, st.shape)


def _channel_vector(node, value, ch: int, flat: bool) -> np.ndarray:
    """A constant that broadcasts over an NCHW (or N,C) tensor, as one value per channel."""
    v = np.asarray(value, dtype=np.float64)
    if v.size == 1:
        return np.full(ch, float(v.reshape(())))
    target = (1, ch) if flat else (1, ch, 1, 1)
    try:
        if v.ndim > len(target) or np.broadcast_shapes(v.shape, target) != target:
            raise ValueError
        return np.broadcast_to(v.reshape((1,) * (len(target) - v.ndim) + v.shape), target).reshape(ch).copy()
    except ValueError:
        raise node_error(node, f"constant of shape {list(v.shape)} is not one value per channel of {ch}") from None


def _out_scale(node, q, axis: int) -> np.ndarray:
    """Per-output-channel weight scale (constant over the other axes)."""
    s = np.moveaxis(q.scale, axis, 0).reshape(q.scale.shape[axis], -1)
    if not np.all(s == s[:, :1]):
        raise node_error(q.node if q.node is not None else node,
                         "its scale varies along a non-output axis of the weights; only per-tensor and "
                         "per-output-channel weight scales are supported")
    return s[:, 0].copy()


def _weight_type(node, t: IntType) -> IntType:
    if t.bits > MAX_BITS or t.bits < 2:
        raise node_error(node, f"weights of {t.bits} bits are not supported", f"use 2 to {MAX_BITS} bit weights")
    if not t.signed:
        if t.bits + 1 > MAX_BITS:
            raise node_error(node, f"unsigned {t.bits}-bit weights need int{t.bits + 1}, wider than {MAX_BITS} bits")
        return IntType(t.bits + 1, True)
    return t


def _dense(rec: Record) -> np.ndarray:
    """Weights as (O, K, K, I) for the preprocessing affine (depthwise: diagonal)."""
    if rec.kind == "conv":
        return rec.weights
    if rec.kind == "dwconv":
        c, k, _ = rec.weights.shape
        d = np.zeros((c, k, k, c), dtype=np.int64)
        for i in range(c):
            d[i, :, :, i] = rec.weights[i]
        return d
    return rec.weights[:, None, None, :]


def _with_node(rec: Record, node) -> Record:
    rec.nodes.append(node.name)
    return rec


def _acc_type(rec: Record) -> IntType:
    fan_in = int(np.prod(rec.weights.shape[1:]))
    return bits_for_range(*accumulator_range(fan_in, rec.weight_type, rec.in_type))


def _show(v) -> str:
    v = np.asarray(v).reshape(-1)
    shown = ", ".join(f"{x:.6g}" for x in v[:4])
    return f"{shown}{', ...' if v.size > 4 else ''}"

