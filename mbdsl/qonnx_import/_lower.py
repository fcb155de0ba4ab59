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

from .. import ir
from ..dtypes import UINT8, IntType, bits_for_range
from ..params import LayerParams
from ..preprocess import fold_thresholds, preprocess_affine
from ..semantics import window_out
from ._errors import node_error
from ._graph import QUANT_DOMAINS, Graph, attr, quant_type
from ._mac import acc_range, acc_type, conv, dense, fc
from ._model import Lowered, LoweredLayer, Site
from ._operands import HINTS, MAX_BITS, const_scalar, const_vec, operand, quant_params, show, unsupported
from ._states import Acc, Codes, Pixels, Sum, pixels_after_quant

__all__ = ["lower"]

_PASS_THROUGH = {"Identity", "Dropout"}
_FINAL = {"TopK", "ArgMax", "Softmax", "LogSoftmax"}


def lower(g: Graph) -> Lowered:
    """Walk the graph's data path and build its layers (see the module docs)."""
    return _Lowering(g).run()


class _Lowering:
    def __init__(self, g: Graph):
        self.g = g
        self.layers: list[LoweredLayer] = []

    # --- driver -------------------------------------------------------------------------

    def run(self) -> Lowered:
        chw = self.g.image_shape()
        state = Pixels(1.0, np.zeros(chw[0]), np.ones(chw[0]), chw)
        self.first_pre = None
        chain = self.g.chain()
        for i, node in enumerate(chain):
            state = self.step(state, node, chain[i + 1 :])
        state = self.finish(state, chain[-1])
        if not any(isinstance(l.layer, (ir.Conv, ir.DwConv, ir.FC)) for l in self.layers):
            raise node_error(chain[-1], "the graph has no convolution or fully connected layer")
        return Lowered(tuple(self.layers), chw, self.first_pre or ir.Preprocess(), self.g.input.name)

    def step(self, state, node, rest):
        op = node.op_type
        if op in _PASS_THROUGH:
            if isinstance(state, Acc) or isinstance(state, Codes) and not state.flat:
                return attrs.evolve(state, tensor=node.output[0])
            return state
        if node.domain in QUANT_DOMAINS and op in ("BipolarQuant", "QuantAvgPool2d", "MultiThreshold"):
            raise node_error(node, f"{op} is not supported", HINTS.get(op))
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
            c, data_first = operand(self.g, node, st.shape, flat=False)
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
        raise unsupported(node, "on the input image")

    def quant_pixels(self, st: Pixels, node):
        """A Quant on the preprocessed image: allowed where it is exact on every u8 pixel,
        i.e. its code is the pixel plus a per-channel offset."""
        scale, step, tp, mode = quant_params(self.g, node, st.shape, flat=False)
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
        return pixels_after_quant(st, step, off[:, 0])

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
            scale, step, tp, mode = quant_params(self.g, node, st.shape, flat=st.flat)
            if np.array_equal(step, st.scale) and tp.min <= st.type.min and tp.max >= st.type.max:
                # Re-quantizes to the same grid: a no-op (a flattened tensor keeps its 4-D name).
                return st if st.flat else attrs.evolve(st, tensor=node.output[0])
            raise node_error(node, "it re-quantizes integer codes to another grid, which mbdsl cannot do exactly",
                             "quantize once, after the layer's accumulator (BatchNorm, ReLU, then Quant)")
        if op == "Mul":
            c, _ = operand(self.g, node, st.shape, flat=st.flat)
            if np.any(c <= 0):
                raise node_error(node, "multiplying codes by a non-positive constant is not supported")
            return attrs.evolve(st, scale=st.scale * c, tensor=node.output[0])
        if op in _FINAL:
            return self.final(st, node, rest)
        raise unsupported(node, f"on {st.type} codes")

    # --- MAC layers ---------------------------------------------------------------------

    def start_mac(self, st, node) -> Acc:
        first = isinstance(st, Pixels)
        in_type = UINT8 if first else st.type
        c, h, w = st.shape
        in_tensor = self.g.input.name if first else st.tensor
        if node.op_type == "Conv":
            if not first and st.flat:
                raise node_error(node, "a convolution after a Flatten/Reshape is not supported")
            layer, weights, ws, bias = conv(self.g, node, in_type, (c, h, w))
            n = weights.shape[0]
            out_shape = (n, window_out(h, layer.kernel, layer.stride, layer.pad), window_out(w, layer.kernel, layer.stride, layer.pad))
        else:
            layer, weights, ws, bias = fc(self.g, node, in_type, (c, h, w))
            n = weights.shape[0]
            out_shape = (n,)
        site = Site((node.name,), node.op_type, in_tensor, None if first else st.scale)
        if first:
            try:
                s, o = preprocess_affine(dense(layer, weights), ws, st.preprocess(), 0 if isinstance(layer, ir.FC) else layer.pad)
            except ValueError as e:
                raise node_error(node, f"the input preprocessing cannot be folded exactly: {e}") from None
        else:
            if isinstance(layer, ir.DwConv):
                s = ws * st.scale
            else:
                if not np.all(st.scale == st.scale[0]):
                    raise node_error(
                        node,
                        f"its input codes have a different scale per channel ({show(st.scale)}); a dense layer "
                        "mixes channels, so its accumulator is not one integer times one scale",
                        "use a per-tensor activation scale before dense layers (per-channel scales are fine before "
                        "depthwise ones)",
                    )
                s = ws * float(st.scale[0])
            o = np.zeros(n)
        o = o + bias
        return Acc(layer, weights, site, np.asarray(s, float), np.asarray(o, float), np.ones(n), np.zeros(n), out_shape,
                   node.output[0], mac_node=node)

    # --- after a MAC --------------------------------------------------------------------

    def on_acc(self, st: Acc, node, rest):
        op = node.op_type
        ch = st.shape[0]
        if op == "BatchNormalization":
            if st.relu:
                raise node_error(node, "a BatchNormalization after a ReLU is not supported", "put the BatchNorm before the ReLU")
            gamma, beta, mean, var = (const_vec(self.g, node, i, ch, vector=True) for i in range(1, 5))
            eps = float(attr(node, "epsilon", 1e-5))
            a = gamma / np.sqrt(var + eps)
            return self.affine(st, node, a, beta - a * mean)
        if op in ("Mul", "Div", "Add", "Sub"):
            if st.relu:
                raise node_error(node, f"{op} after a ReLU (before the Quant) is not supported")
            c, data_first = operand(self.g, node, st.shape, flat=len(st.shape) == 1)
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
        raise unsupported(node, "after a convolution or fully connected layer")

    def affine(self, st: Acc, node, a, b) -> Acc:
        a = np.broadcast_to(np.asarray(a, float), st.a.shape)
        with np.errstate(all="ignore"):
            new_a, new_b = a * st.a, a * st.b + b
        if not (np.all(np.isfinite(new_a)) and np.all(np.isfinite(new_b))):
            raise node_error(node, "its constants make the scale or offset infinite or not a number",
                             "export the model again: a constant holds nan or inf, or is out of range")
        return attrs.evolve(st, a=new_a, b=new_b, tensor=node.output[0], site=st.site.then(node))

    def activation(self, st: Acc, node) -> Codes:
        layer = st.layer
        flat = len(st.shape) == 1
        scale, step, tp, mode = quant_params(self.g, node, st.shape, flat=flat)
        out = tp
        if st.relu and tp.signed:
            if tp.bits < 2:
                raise node_error(node, "a ReLU before a 1-bit signed Quant leaves one code")
            out = IntType(tp.bits - 1, False)  # ReLU then a signed quantizer: codes 0..max
        if out.bits > MAX_BITS:
            raise node_error(node, f"activations of {tp.bits} bits are not supported", f"use 2 to {MAX_BITS} bits")
        rng = acc_range(layer, st.weights)
        uniform = bool(np.all(step == step[0]))
        a, b = (st.a, st.b) if uniform else (st.a / step, st.b / step)
        folded = fold_thresholds(st.s, st.o, out, rng, a=a, b=b, step=float(step[0]) if uniform else 1.0,
                                 rounding=mode)
        w = st.weights.copy()
        if np.any(folded.negate):
            w[folded.negate] *= -1
            if not layer.weight_type.allowed(w):
                bad = sorted(set(np.nonzero((w < layer.weight_type.min) | (w > layer.weight_type.max))[0].tolist()))
                raise node_error(
                    st.mac_node,
                    f"output channels {bad[:8]} have a negative slope (BatchNorm gamma or scale < 0), so their "
                    f"weights must be negated, but then leave {layer.weight_type}",
                    "quantize the weights with narrow range (e.g. int8 narrow: -127..127)",
                )
        site = st.site.then(node, negated=int(np.count_nonzero(folded.negate)), pre_tensor=node.input[0], step=step,
                            rounding=mode, out_tensor=node.output[0], out_scale=step)
        self.layers.append(LoweredLayer(attrs.evolve(layer, act_type=out), LayerParams(weights=w, thresholds=folded.thresholds), site))
        shape = st.shape if len(st.shape) == 3 else (st.shape[0], 1, 1)
        return Codes(out, step, shape, node.output[0], flat=flat)

    def raw(self, st: Acc, node) -> Codes:
        """The last fully connected layer without an activation: integer logits."""
        layer = st.layer
        if not isinstance(layer, ir.FC):
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
                f"the logits have a different scale per class ({show(big_a)}); the class ranking of the integer "
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
        int_bias = ib.astype(np.int64) if np.any(ib != 0) else None
        if int_bias is not None:  # a raw classifier's integer bias (Brevitas IntBias)
            layer = attrs.evolve(layer, bias_type=bits_for_range(min(int(int_bias.min()), -2), int(int_bias.max())))
        site = attrs.evolve(st.site, logit_scale=scale, out_tensor=st.tensor)
        self.layers.append(LoweredLayer(layer, LayerParams(weights=st.weights, bias=int_bias), site))
        n = layer.out_channels
        return Codes(acc_type(layer, st.weights), np.full(n, scale), (n, 1, 1), st.tensor, flat=True)

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
                raise node_error(node, f"its k is not one number ({show(kv) if kv.size else 'empty'})")
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
        site = Site((node.name,), op, st.tensor, st.scale,
                    out_tensor=node.output[1] if op == "TopK" and len(node.output) > 1 else node.output[0])
        if op == "TopK" and node.output[0] in self.g.outputs and (len(node.output) < 2 or node.output[1] not in self.g.outputs):
            raise node_error(node, "the graph outputs TopK's values; mbdsl's topk outputs the class indices",
                             "make the indices (TopK's second output) the graph output")
        self.layers.append(LoweredLayer(ir.TopK(name="", k=k, in_type=st.type), LayerParams(), site))
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
        site = Site((node.name,), node.op_type, st.tensor, st.scale)
        return Sum(n, st.scale / n, st.type, (c, 1, 1), site)

    def on_sum(self, st: Sum, node):
        op = node.op_type
        if op == "Mul":
            c, _ = operand(self.g, node, st.shape, flat=False)
            return attrs.evolve(st, f=st.f * c, site=st.site.then(node))
        if op == "Trunc":
            return self.trunc(st, node)
        if op == "Quant":
            raise node_error(node, "it re-quantizes a float average; mbdsl pools by truncating the integer sum",
                             "use Brevitas TruncAvgPool2d (AveragePool, Mul by the kernel area, Trunc)")
        raise unsupported(node, "after an average pool", "follow the pool with Mul (kernel area) and Trunc")

    def trunc(self, st: Sum, node) -> Codes:
        ch = st.shape[0]
        # As qonnx: the version is the model's opset of the node's domain (v1: 5 inputs, v2: 6).
        version = 2 if self.g.opsets.get(node.domain, 1) >= 2 else 1
        if len(node.input) != 4 + version:
            raise node_error(node, f"Trunc version {version} (opset {self.g.opsets.get(node.domain, 1)} of domain "
                                   f"'{node.domain}') takes {4 + version} inputs, not {len(node.input)}")
        scale = const_vec(self.g, node, 1, ch)
        zeropt = const_vec(self.g, node, 2, ch)
        in_bits = const_scalar(self.g, node, 3)
        out_bits = const_scalar(self.g, node, len(node.input) - 1)
        if np.any(zeropt != 0):
            raise node_error(node, "a non-zero zero point is not supported")
        mode = str(attr(node, "rounding_mode", "FLOOR")).upper()
        if mode != "FLOOR":
            raise node_error(node, f"rounding mode {mode} is not supported", "mbdsl truncates the pool's sum (FLOOR)")
        if not np.allclose(st.f, scale, rtol=1e-5, atol=0):
            raise node_error(
                node,
                f"its scale ({show(scale)}) is not that of the pooled sum ({show(st.f)}): it would not see the integer sum",
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
            out_scale = const_vec(self.g, node, 4, ch)
            shifts = np.round(np.log2(out_scale / scale))
            if not np.all(shifts == shifts[0]) or shifts[0] < 0:
                raise node_error(node, f"output scale / scale = {show(out_scale / scale)} is not one power of two >= 1")
            shift = int(shifts[0])
            signed, narrow = bool(attr(node, "signed", 1)), bool(attr(node, "narrow", 0))
            out = quant_type(node, out_bits, signed, narrow)
            if not signed and narrow and (hi >> shift) > out.max - 1:
                raise node_error(node, "an unsigned narrow-range Trunc that clips at 2^bits - 2 is not supported")
        if out.bits > MAX_BITS:
            raise node_error(node, f"the pool outputs {out} codes; at most {MAX_BITS} bits are supported")
        if shift > 31:
            raise node_error(node, f"shift {shift} is larger than 31")
        site = st.site.then(node, out_tensor=node.output[0], out_scale=np.asarray(out_scale, float))
        layer = ir.AvgPool(name="", act_type=out, shift=shift, in_type=it)
        self.layers.append(LoweredLayer(layer, LayerParams(shift=shift), site))
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
