"""QONNX import: graphs that cannot be imported exactly give an error naming the node (name
and op type) and the reason, never a spec. Messages are pinned."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the QONNX importer needs onnx (pip install 'mbdsl[qonnx]')")

from onnx import TensorProto, helper  # noqa: E402
from qonnx_models.graphs import Builder  # noqa: E402

from mbdsl.errors import MbdslError  # noqa: E402
from mbdsl.qonnx_import import QonnxImportError, import_model  # noqa: E402


def refused(model, pattern):
    with pytest.raises(QonnxImportError) as info:
        import_model(model, "/nonexistent/x.mbn")
    assert isinstance(info.value, MbdslError)
    import re

    assert re.search(pattern, info.value.message), info.value.message
    return info.value


def base(**kw):
    b = Builder(8, 8, 3, seed=1, **kw)
    b.conv(8, 3, 1, 0, wbits=8).bn().relu_quant(4)
    return b


def tail(b, bias=False):
    return b.pool().flatten().gemm(4, bias=bias).topk(2).model()


def test_unsupported_op():
    b = base()
    b.cur = b.node("Sigmoid", [b.cur])[0]
    refused(b.model(), r"^node '/sigmoid_\d+' \(Sigmoid\): Sigmoid is not supported on uint4 codes")


def test_branch():
    b = base()
    x = b.cur
    b.conv(8, 1, 1, 0).bn().relu_quant(4)
    b.cur = b.node("Add", [x, b.cur])[0]
    refused(b.model(), r"^node '/quant_\d+' \(Quant\): its output '.*' feeds 2 nodes .*mbdsl networks are a chain")


def test_float_weights():
    b = base()
    w = b.const(np.ones((8, 8, 1, 1), np.float32))
    b.cur = b.node("Conv", [b.cur, w], kernel_shape=[1, 1])[0]
    refused(b.model(), r"^node '/conv_\d+' \(Conv\): its weights are float, not quantized")


def test_nonzero_zero_point():
    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 1, 0, wbits=8).bn()
    b.cur = b.node("Quant", [b.cur, b.const(0.1), b.const(1.0), b.const(4.0)], domain=b.domain, signed=0, narrow=0)[0]
    refused(b.model(), r"^node '/quant_\d+' \(Quant\): a non-zero zero point is not supported")


@pytest.mark.parametrize(
    "bits,signed,narrow,pattern",
    [
        (9, 0, 0, r"activations of 9 bits are not supported"),
        (1, 1, 0, r"1-bit signed \(bipolar\) activations are not supported"),
        (4, 0, 1, r"unsigned narrow-range activations"),
        (2.5, 0, 0, r"bit width 2.5 is not a whole number of bits"),
    ],
)
def test_activation_types(bits, signed, narrow, pattern):
    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 1, 0, wbits=8).bn()
    b.cur = b.node("Quant", [b.cur, b.const(0.1), b.const(0.0), b.const(float(bits))], domain=b.domain,
                   signed=signed, narrow=narrow)[0]
    refused(b.model(), r"^node '/quant_\d+' \(Quant\): " + pattern)


def test_weight_bits():
    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 1, 0, wbits=9)
    refused(b.model(), r"^node '/conv_\d+' \(Conv\): weights of 9 bits are not supported")


def test_per_channel_scale_before_a_dense_layer():
    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 1, 0, wbits=8).bn().relu_quant(4, per_channel=True)
    b.conv(8, 1, 1, 0).bn().relu_quant(4)
    refused(b.model(), r"^node '/conv_\d+' \(Conv\): its input codes have a different scale per channel")


def test_asymmetric_padding():
    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 2, wbits=8, pads=[0, 0, 1, 1])
    refused(b.model(), r"^node '/conv_\d+' \(Conv\): asymmetric padding \[0, 0, 1, 1\] .* is not supported")


def test_padding_with_a_mean_on_raw_pixels():
    b = Builder(8, 8, 3, seed=1).preprocess()
    b.conv(8, 3, 1, 1, wbits=8)
    e = refused(b.model(), r"^node '/conv_\d+' \(Conv\): the input preprocessing cannot be folded exactly: padding 1")
    assert "pad 0 on the first layer" in e.message


def test_per_channel_std():
    b = Builder(8, 8, 3, seed=1)
    b.unary("Div", np.float32(255))
    b.unary("Div", np.array([0.2, 0.3, 0.4], np.float32).reshape(1, 3, 1, 1))
    b.conv(8, 3, 1, 0, wbits=8)
    refused(b.model(), r"preprocessing cannot be folded exactly: std .* differs between input channels")


def test_per_class_logit_scales():
    b = base()
    b.pool().flatten().gemm(4, per_channel=True, bias=False).topk(2)
    refused(b.model(), r"^node '/gemm_\d+' \(Gemm\): the logits have a different scale per class")


def test_bias_that_is_not_integer():
    b = base()
    b.pool().flatten()
    wf, scale, _ = b._weights((4, 8), 4, True, False)
    wq = b.node("Quant", [b.const(wf), b.const(scale), b.const(0.0), b.const(4.0)], domain=b.domain, signed=1, narrow=1)[0]
    bias = b.const(np.array([0.3, 0.1, 0.7, 0.123], np.float32))
    b.cur = b.node("Gemm", [b.cur, wq, bias], transB=1)[0]
    refused(b.model(), r"^node '/gemm_\d+' \(Gemm\): its bias is not an integer multiple of the accumulator scale")


def test_grouped_and_dilated_convs():
    b = Builder(8, 8, 4, seed=1)
    b.conv(8, 3, 1, 0, group=2, wbits=8)
    refused(b.model(), r"grouped convolution with group=2 \(4 -> 8 channels\) is not supported")
    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 1, 0, wbits=8)
    for a in b.nodes[-1].attribute:
        if a.name == "dilations":
            a.ints[:] = [2, 2]
    refused(b.model(), r"^node '/conv_\d+' \(Conv\): dilation \[2, 2\] is not supported")


def test_local_average_pool():
    b = base()
    b.cur = b.node("AveragePool", [b.cur], kernel_shape=[2, 2], strides=[2, 2])[0]
    refused(b.model(), r"^node '/averagepool_\d+' \(AveragePool\): only a global average pool is supported")


def test_float_average_requantized():
    b = base()
    b.cur = b.node("GlobalAveragePool", [b.cur])[0]
    b.cur = b.quant_node(b.cur, np.float32(0.1), 4, False, False)
    refused(b.model(), r"^node '/quant_\d+' \(Quant\): it re-quantizes a float average")


def test_trunc_rounding():
    b = base()
    b.pool()
    for a in b.nodes[-1].attribute:
        if a.name == "rounding_mode":
            a.s = b"ROUND"
    refused(b.model(), r"^node '/trunc_\d+' \(Trunc\): rounding mode ROUND is not supported")


def test_requantizing_codes():
    b = base()
    b.cur = b.quant_node(b.cur, np.float32(0.37), 4, False, False)
    refused(b.model(), r"^node '/quant_\d+' \(Quant\): it re-quantizes integer codes to another grid")


def test_negated_channel_leaves_full_range_weights():
    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 1, 0, wbits=8).bn().relu_quant(4)
    b.conv(8, 1, 1, 0, wbits=2, narrow=False).bn(negative=1.0).relu_quant(4)
    refused(b.model(), r"^node '/conv_\d+' \(Conv\): output channels \[.*\] have a negative slope .* leave int2")


def test_two_inputs():
    b = base()
    m = tail(b)
    m.graph.input.append(helper.make_tensor_value_info("other", TensorProto.FLOAT, [1, 3]))
    refused(m, r"^the graph has 2 data inputs \(image, other\)")


def test_topk_smallest():
    b = base()
    b.pool().flatten().gemm(4, bias=False)
    b.node("TopK", [b.cur, b.const(np.array([2]), np.int64)], outputs=["v", "i"], largest=0)
    b.outputs = [helper.make_tensor_value_info("i", TensorProto.INT64, None)]
    refused(b.model(), r"^node '/topk_\d+' \(TopK\): largest=0 \(the k smallest\) is not supported")


def test_not_an_onnx_file(tmp_path):
    p = tmp_path / "x.onnx"
    p.write_bytes(b"not a model")
    with pytest.raises(QonnxImportError, match="cannot read .* as an ONNX model"):
        import_model(str(p), str(tmp_path / "x.mbn"))
    with pytest.raises(QonnxImportError, match="no such file"):
        import_model(str(tmp_path / "missing.onnx"), str(tmp_path / "x.mbn"))
