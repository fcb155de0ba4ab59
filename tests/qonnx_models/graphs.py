"""Small QONNX graphs built with onnx.helper, shaped like Brevitas exports (no torch).

:class:`Builder` appends nodes to one data path and runs a float numpy model of the same
graph on sample images as it goes, so that BatchNorm statistics and activation scales are
calibrated: every quantized activation spreads over its codes (a network whose codes are
all 0 would prove nothing). ``mobilenet`` builds a FINN-style MobileNet-v1.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QDOMAIN = "qonnx.custom_op.general"


class Builder:
    def __init__(self, h=16, w=16, c=3, seed=0, domain=QDOMAIN, samples=8, name="net"):
        self.rng = np.random.default_rng(seed)
        self.nodes: list = []
        self.inits: list = []
        self.domain = domain
        self.name = name
        self.cur = "image"
        self.shape = (c, h, w)
        self.input = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, c, h, w])
        self.x = self.rng.integers(0, 256, size=(samples, c, h, w)).astype(np.float64)
        self.n = 0
        self.outputs = None
        self.qonnx_opset = 1

    # --- plumbing -----------------------------------------------------------------------

    def _name(self, op):
        self.n += 1
        return f"/{op.lower()}_{self.n}"

    def const(self, value, dtype=np.float32) -> str:
        name = f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op, inputs, outputs=None, domain="", **attrs):
        name = self._name(op)
        outputs = outputs or [name + "_out"]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, domain=domain, **attrs))
        return outputs

    def unary(self, op, const, **attrs):
        self.cur = self.node(op, [self.cur, self.const(const)], **attrs)[0]

    def model(self, opset=13) -> onnx.ModelProto:
        outputs = self.outputs or [helper.make_tensor_value_info(self.cur, TensorProto.FLOAT, None)]
        graph = helper.make_graph(self.nodes, self.name, [self.input], outputs, initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(self.domain, self.qonnx_opset)])
        return m

    # --- float model ----------------------------------------------------------------------

    @staticmethod
    def quantize(x, scale, bits, signed, narrow, rounding="ROUND"):
        lo = -(2 ** (bits - 1)) + int(narrow) if signed else 0
        hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        q = np.clip(x / scale, lo, hi)
        q = np.floor(q) if rounding == "FLOOR" else np.round(q)
        return q * scale

    def quant_node(self, x, scale, bits, signed, narrow, rounding="ROUND"):
        return self.node(
            "Quant", [x, self.const(scale), self.const(0.0), self.const(float(bits))],
            domain=self.domain, signed=int(signed), narrow=int(narrow), rounding_mode=rounding,
        )[0]

    # --- layers ---------------------------------------------------------------------------

    def preprocess(self, scale=1 / 255, mean=(0.485, 0.456, 0.406), std=0.226):
        c = self.shape[0]
        self.unary("Div", np.float32(1 / scale))
        m = np.asarray(mean, np.float32).reshape(1, -1, 1, 1)
        self.unary("Sub", m)
        self.unary("Div", np.float32(std))
        self.x = (self.x * scale - np.asarray(mean).reshape(1, -1, 1, 1)) / std
        return self

    def input_quant(self, scale, bits=8, signed=False):
        self.cur = self.quant_node(self.cur, np.float32(scale), bits, signed, False)
        self.x = self.quantize(self.x, scale, bits, signed, False)
        return self

    def _weights(self, shape, bits, narrow, per_channel, signed=True):
        lo = -(2 ** (bits - 1)) + int(narrow) if signed else 0
        hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        ints = self.rng.integers(lo, hi + 1, size=shape)
        o = shape[0]
        sshape = (o,) + (1,) * (len(shape) - 1)
        scale = (self.rng.uniform(0.5, 2.0, size=sshape) if per_channel else np.full((1,) * len(shape), 1.3)) * 0.01
        scale = scale.astype(np.float32)
        w = (ints * scale).astype(np.float32)
        return w, scale, ints

    def conv(self, out, k=3, stride=1, pad=None, group=1, wbits=4, narrow=True, per_channel=True, bias=False,
             pads=None, signed_w=True):
        c, h, w = self.shape
        pad = k // 2 if pad is None else pad
        if group == "dw":
            group, out = c, c
        wf, scale, ints = self._weights((out, c // group, k, k), wbits, narrow, per_channel, signed_w)
        wq = self.node("Quant", [self.const(wf), self.const(scale), self.const(0.0), self.const(float(wbits))],
                       domain=self.domain, signed=int(signed_w), narrow=int(narrow), rounding_mode="ROUND")[0]
        inputs = [self.cur, wq]
        b = None
        if bias:
            b = self.rng.normal(0, 0.05, size=out).astype(np.float32)
            inputs.append(self.const(b))
        pads = pads or [pad] * 4
        self.cur = self.node("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=pads,
                             group=group, dilations=[1, 1])[0]
        self.x = _conv(self.x, ints * scale, stride, pads, group)
        if b is not None:
            self.x = self.x + b.reshape(1, -1, 1, 1)
        oh = (h + pads[0] + pads[2] - k) // stride + 1
        ow = (w + pads[1] + pads[3] - k) // stride + 1
        self.shape = (out, oh, ow)
        return self

    def bn(self, negative=0.2):
        """BatchNorm normalizing the current values, with random gamma (some negative) and beta."""
        c = self.shape[0]
        mean = self.x.mean(axis=(0, 2, 3))
        var = self.x.var(axis=(0, 2, 3)) + 1e-6
        gamma = self.rng.uniform(0.6, 1.4, size=c) * np.where(self.rng.random(c) < negative, -1, 1)
        beta = self.rng.uniform(0.5, 1.5, size=c)
        ins = [self.cur] + [self.const(v.astype(np.float32)) for v in (gamma, beta, mean, var)]
        self.cur = self.node("BatchNormalization", ins, epsilon=1e-5)[0]
        g32, b32, m32, v32 = (v.astype(np.float32).astype(np.float64) for v in (gamma, beta, mean, var))
        self.x = (self.x - m32.reshape(1, -1, 1, 1)) / np.sqrt(v32.reshape(1, -1, 1, 1) + 1e-5) * g32.reshape(1, -1, 1, 1) + b32.reshape(1, -1, 1, 1)
        return self

    def relu_quant(self, bits=4, per_channel=False, signed=False, narrow=False, relu=True, rounding="ROUND"):
        c = self.shape[0]
        if relu:
            self.cur = self.node("Relu", [self.cur])[0]
            self.x = np.maximum(self.x, 0)
        top = np.percentile(self.x, 99, axis=(0, 2, 3)) if per_channel else np.percentile(self.x, 99)
        levels = (2 ** (bits - 1) - 1) if signed else (2**bits - 1)
        scale = np.maximum(np.asarray(top, float), 1e-3) / levels
        scale = scale.astype(np.float32)
        shaped = scale.reshape(1, -1, 1, 1) if per_channel else scale
        self.cur = self.quant_node(self.cur, shaped, bits, signed, narrow, rounding)
        self.x = self.quantize(self.x, shaped.astype(np.float64), bits, signed, narrow, rounding)
        self.act_bits, self.act_scale = bits, scale
        return self

    def block(self, out, stride=1, bits=4, per_channel_act=False):
        self.conv(None, 3, stride, 1, group="dw", wbits=bits).bn().relu_quant(bits)
        self.conv(out, 1, 1, 0, wbits=bits).bn().relu_quant(bits, per_channel=per_channel_act)
        return self

    def pool(self, version=1, global_op=False, mul=True):
        c, h, w = self.shape
        if global_op:
            self.cur = self.node("GlobalAveragePool", [self.cur])[0]
        else:
            self.cur = self.node("AveragePool", [self.cur], kernel_shape=[h, w], strides=[1, 1])[0]
        n = h * w
        if mul:
            self.cur = self.node("Mul", [self.cur, self.const(np.float32(n))])[0]
        bits = self.act_bits
        in_bits = int(np.ceil(np.log2((2**bits - 1) * n)))
        scale = np.float32(np.asarray(self.act_scale).reshape(-1)[0]) if np.asarray(self.act_scale).size == 1 else \
            self.act_scale.reshape(1, -1, 1, 1)
        ins = [self.cur, self.const(scale), self.const(0.0), self.const(float(in_bits))]
        shift = in_bits - bits
        if version == 1:
            ins.append(self.const(float(bits)))
            self.cur = self.node("Trunc", ins, domain=self.domain, rounding_mode="FLOOR")[0]
            out_scale = scale
        else:
            out_scale = (np.asarray(scale) * 2.0**shift).astype(np.float32)
            ins += [self.const(out_scale), self.const(float(bits))]
            self.qonnx_opset = 2
            self.cur = self.node("Trunc", ins, domain=self.domain, rounding_mode="FLOOR", signed=0, narrow=0)[0]
        codes = np.rint(self.x.sum(axis=(2, 3), keepdims=True) / np.asarray(scale, float).reshape(1, -1, 1, 1) if np.asarray(scale).size > 1 else self.x.sum(axis=(2, 3), keepdims=True) / float(scale))
        self.x = np.floor(codes / 2**shift) * np.asarray(out_scale, float).reshape(1, -1, 1, 1) if np.asarray(out_scale).size > 1 else np.floor(codes / 2**shift) * float(out_scale)
        self.shape = (c, 1, 1)
        self.act_scale = out_scale
        return self

    def flatten(self, op="Flatten"):
        if op == "Flatten":
            self.cur = self.node("Flatten", [self.cur], axis=1)[0]
        else:
            self.cur = self.node("Reshape", [self.cur, self.const(np.array([1, -1]), np.int64)])[0]
        self.x = self.x.reshape(len(self.x), -1)
        return self

    def gemm(self, out, wbits=4, narrow=True, bias=True, per_channel=False, matmul=False):
        i = self.x.shape[1]
        wf, scale, ints = self._weights((out, i), wbits, narrow, per_channel)
        wq = self.node("Quant", [self.const(wf), self.const(scale), self.const(0.0), self.const(float(wbits))],
                       domain=self.domain, signed=1, narrow=int(narrow), rounding_mode="ROUND")[0]
        in_scale = float(np.asarray(self.act_scale).reshape(-1)[0])
        b = None
        if bias:
            # IntBias: integers on the accumulator's scale (input scale x weight scale).
            bscale = (scale.reshape(-1) * np.float32(in_scale)).astype(np.float32)
            bint = self.rng.integers(-200, 200, size=out)
            bq = self.node("Quant", [self.const((bint * bscale).astype(np.float32)), self.const(bscale),
                                     self.const(0.0), self.const(32.0)],
                           domain=self.domain, signed=1, narrow=0, rounding_mode="ROUND")[0]
            b = bint * bscale.astype(np.float64)
        if matmul:
            wt = self.node("Transpose", [wq], perm=[1, 0])[0]
            self.cur = self.node("MatMul", [self.cur, wt])[0]
            if bias:
                self.cur = self.node("Add", [self.cur, bq])[0]
        else:
            self.cur = self.node("Gemm", [self.cur, wq] + ([bq] if bias else []), transB=1)[0]
        self.x = self.x @ (ints * scale).T.astype(np.float64) + (b if b is not None else 0)
        self.shape = (out, 1, 1)
        return self

    def topk(self, k):
        outs = self.node("TopK", [self.cur, self.const(np.array([k]), np.int64)], outputs=["values", "indices"],
                         axis=-1, largest=1, sorted=1)
        self.cur = outs[1]
        self.outputs = [helper.make_tensor_value_info("indices", TensorProto.INT64, None)]
        return self


def _conv(x, w, stride, pads, group):
    """Float NCHW convolution (numpy), for calibration only."""
    n, c, h, wd = x.shape
    o, cg, k, _ = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    oh = (h + pads[0] + pads[2] - k) // stride + 1
    ow = (wd + pads[1] + pads[3] - k) // stride + 1
    out = np.zeros((n, o, oh, ow))
    og = o // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for r in range(k):
            for s in range(k):
                patch = xs[:, :, r:r + stride * (oh - 1) + 1:stride, s:s + stride * (ow - 1) + 1:stride]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, r, s])
    return out


def mobilenet(seed=0, size=16, alpha_channels=(8, 16, 32), classes=10, k=3, bias=False, pad0=0,
              domain=QDOMAIN, trunc_version=1, per_channel_act0=True, preprocess=True):
    """A FINN-style MobileNet-v1: /255 + mean/std, conv0 8-bit weights (pad 0), dw/pw
    blocks (4-bit), global TruncAvgPool, FC (4-bit, optional IntBias), TopK."""
    b = Builder(size, size, 3, seed=seed, domain=domain, name="mobilenet_test")
    if preprocess:
        b.preprocess()
    c0 = alpha_channels[0]
    b.conv(c0, 3, 2, pad0, wbits=8).bn().relu_quant(4, per_channel=per_channel_act0)
    for i, ch in enumerate(alpha_channels[1:]):
        b.block(ch, stride=2 if i % 2 else 1)
    b.pool(version=trunc_version).flatten().gemm(classes, bias=bias).topk(k)
    return b.model()
