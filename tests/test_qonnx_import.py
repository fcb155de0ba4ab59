"""QONNX import: every supported pattern is exact against qonnx's execution, layer by layer
(up to rounding ties, which are counted); every unsupported one is a named error.

Graphs are built with onnx.helper (tests/qonnx_models/graphs.py), no torch.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx", reason="the QONNX importer needs onnx (pip install 'mbdsl[qonnx]')")
pytest.importorskip("qonnx", reason="verification against QONNX needs qonnx (pip install 'mbdsl[qonnx]')")

from qonnx_models.graphs import Builder, mobilenet  # noqa: E402

from mbdsl import params as P  # noqa: E402
from mbdsl import reference  # noqa: E402
from mbdsl.cli import main  # noqa: E402
from mbdsl.frontend import load  # noqa: E402
from mbdsl.passes import check  # noqa: E402
from mbdsl.qonnx_import import import_model, verify  # noqa: E402


def images(size, n=3, seed=0):
    """Random u8 images of different brightness and contrast (so classes differ)."""
    r = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        lo = r.integers(0, 160)
        hi = r.integers(lo + 40, 256)
        out.append(r.integers(lo, hi + 1, size=(size, size, 3)))
    return np.stack(out).astype(np.uint8)


def exact(model, tmp_path, size=16, n=3, **kw):
    imp = import_model(model, str(tmp_path / "net.mbn"), **kw)
    report = verify(model, imp, images(size, n))
    assert report.exact and report.outputs_after_ties == 0, report.table()
    return imp, report


def spread(imp, size=16):
    """Every quantized layer uses several codes (the comparison can fail)."""
    hists = P.activation_histograms(imp.net, imp.params, images(size, 4, seed=9))
    for name, h in hists.items():
        assert np.count_nonzero(h) >= 3, (name, h)


# --- the FINN seed pattern ----------------------------------------------------------------


def test_finn_mobilenet_pattern_is_exact(tmp_path):
    m = mobilenet(seed=1)
    imp, report = exact(m, tmp_path)
    spread(imp)
    assert [l.kind for l in imp.net.layers] == ["conv", "dwconv", "pwconv", "dwconv", "pwconv", "avgpool", "fc", "topk"]
    text = imp.spec
    assert "input 16x16x3 u8 { scale 1/255; mean 0.485 0.456 0.406; std 0.226 }" in text
    assert "defaults { weights int4 narrow; activations uint4; quant thresholds; fold(auto) }" in text
    assert re.search(r"conv +conv0 3x3 stride 2 pad 0 -> 8 weights int8 narrow +# /conv_\d+", text)
    assert re.search(r"dwsep +b1 stride 1 -> 16", text)
    assert re.search(r"avgpool pool global shift 4", text)
    assert re.search(r"topk +top3 3", text)
    # some BatchNorm gammas are negative: those channels' weights are negated
    assert sum(site.negated for site in imp.sites) > 0


def test_written_spec_reads_back_and_runs(tmp_path):
    m = mobilenet(seed=2)
    imp = import_model(m, str(tmp_path / "mnv.mbn"))
    imp.write(str(tmp_path / "mnv.mbn"))
    net = check(load(str(tmp_path / "mnv.mbn")))
    prm = P.make_params(net)
    assert prm.equals(imp.params)
    for image in images(16):
        assert np.array_equal(reference.classify(net, prm, image), reference.classify(imp.net, imp.params, image))


def test_fold_none_writes_no_fold(tmp_path):
    imp = import_model(mobilenet(seed=1), str(tmp_path / "n.mbn"), fold="none")
    assert "fold" not in imp.spec.split("network", 1)[1]
    assert all(getattr(l, "fold").lanes() == 1 for l in imp.net.layers if hasattr(l, "fold"))


@pytest.mark.parametrize("version", [1, 2])
def test_trunc_versions(tmp_path, version):
    exact(mobilenet(seed=3, trunc_version=version), tmp_path)


def test_brevitas_domain_and_global_pool(tmp_path):
    b = Builder(12, 12, 3, seed=4, domain="onnx.brevitas").preprocess()
    b.conv(8, 3, 1, 0, wbits=8).bn().relu_quant(4)
    b.conv(16, 1, 1, 0).bn().relu_quant(4)
    b.pool(global_op=True).flatten("Reshape").gemm(5, bias=False).topk(2)
    imp, _ = exact(b.model(), tmp_path, size=12)
    spread(imp, 12)


def test_fc_bias_is_declared_written_and_read_back(tmp_path):
    """Brevitas' QuantLinear(bias=True): the spec declares the bias type, the npz carries
    the integer bias, and the written pair reproduces the import exactly."""
    m = mobilenet(seed=5, bias=True)
    imp, _ = exact(m, tmp_path)
    b = imp.params["fc"].bias
    assert b is not None and np.count_nonzero(b) > 1
    fc = next(l for l in imp.net.layers if l.name == "fc")
    assert fc.bias_type.signed and fc.bias_type.min <= b.min() and b.max() <= fc.bias_type.max
    assert re.search(rf"fc +fc -> \d+ bias {fc.bias_type.name} +#", imp.spec)
    imp.write(str(tmp_path / "b.mbn"))
    net = check(load(str(tmp_path / "b.mbn")))
    back = P.load_npz(net)
    assert back.equals(imp.params)
    x = images(16, 3, seed=2)
    assert np.array_equal(reference.classify_batch(net, back, x), reference.classify_batch(imp.net, imp.params, x))


def test_matmul_with_add_bias(tmp_path):
    b = Builder(8, 8, 3, seed=6)
    b.conv(8, 3, 1, 1, wbits=4).bn().relu_quant(4)
    b.pool().flatten().gemm(6, matmul=True, bias=True).topk(3)
    imp, _ = exact(b.model(), tmp_path, size=8)
    assert imp.params["fc"].bias is not None


def test_fc_on_a_feature_map_reorders_weights(tmp_path):
    # Flatten of a 3x3x4 map: ONNX order (C, H, W), mbdsl order (H, W, C)
    b = Builder(8, 8, 3, seed=7)
    b.conv(4, 3, 2, 0, wbits=4).bn().relu_quant(3)
    b.flatten().gemm(16, wbits=3, bias=False)
    imp, _ = exact(b.model(), tmp_path, size=8)
    assert imp.net.layers[-1].kind == "fc" and imp.net.layers[-1].act_type is None


# --- quantizer variants -------------------------------------------------------------------


@pytest.mark.parametrize(
    "act",
    [
        dict(bits=2),
        dict(bits=8),
        dict(bits=4, signed=True, relu=False),
        dict(bits=4, signed=True, narrow=True, relu=False),
        dict(bits=5, signed=True, relu=True),  # ReLU + signed: codes 0..15 (uint4)
        dict(bits=4, rounding="FLOOR"),
        dict(bits=4, rounding="HALF_UP"),
    ],
    ids=["u2", "u8", "s4", "s4-narrow", "relu-s5", "floor", "half-up"],
)
def test_activation_quantizers(tmp_path, act):
    b = Builder(10, 10, 3, seed=8)
    b.conv(8, 3, 1, 0, wbits=8).bn().relu_quant(4, per_channel=True)
    b.conv(None, 3, 1, 1, group="dw").bn().relu_quant(**act)
    b.conv(12, 1, 1, 0).bn().relu_quant(4)
    b.pool().flatten().gemm(4, bias=False).topk(2)
    imp, _ = exact(b.model(), tmp_path, size=10)
    spread(imp, 10)
    t = imp.net.layers[1].act_type
    if act.get("signed") and act.get("relu", True):
        assert (t.bits, t.signed) == (act["bits"] - 1, False)
    else:
        assert (t.bits, t.signed, t.narrow) == (act["bits"], bool(act.get("signed")), bool(act.get("narrow")))


@pytest.mark.parametrize(
    "w",
    [
        dict(wbits=2),
        dict(wbits=8, narrow=False, per_channel=False),
        dict(wbits=3, narrow=False),
        dict(wbits=4, signed_w=False),  # uint4 weights become int5
    ],
    ids=["int2", "int8-per-tensor", "int3-full-range", "uint4"],
)
def test_weight_quantizers(tmp_path, w):
    b = Builder(10, 10, 3, seed=10)
    b.conv(8, 3, 1, 0, wbits=8).bn(negative=0).relu_quant(4)
    b.conv(8, 1, 1, 0, **w).bn(negative=0).relu_quant(4)
    b.pool().flatten().gemm(4, bias=False).topk(2)
    imp, _ = exact(b.model(), tmp_path, size=10)
    wt = imp.net.layers[1].weight_type
    if w.get("signed_w") is False:
        assert (wt.bits, wt.signed) == (5, True)
    else:
        assert wt.bits == w["wbits"]


# --- padding and layouts ------------------------------------------------------------------


def test_padding_that_no_window_reaches_is_accepted(tmp_path):
    # 3x3 stride 2 on 16x16 with pads (top, left, bottom, right) = (1, 1, 0, 0) reads the
    # same windows as symmetric padding 1.
    b = Builder(16, 16, 3, seed=11)
    b.conv(8, 3, 2, wbits=8, pads=[1, 1, 0, 0]).bn().relu_quant(4)
    b.conv(8, 5, 1, 2, wbits=4).bn().relu_quant(4)
    b.pool().flatten().gemm(4, bias=False).topk(1)
    imp, _ = exact(b.model(), tmp_path)
    assert (imp.net.layers[0].pad, imp.net.layers[1].pad, imp.net.layers[1].kernel) == (1, 2, 5)


def test_input_quant_on_raw_pixels(tmp_path):
    b = Builder(8, 8, 3, seed=12).input_quant(1.0, bits=8)
    b.conv(8, 3, 1, 1, wbits=8).bn().relu_quant(4)
    b.pool().flatten().gemm(4, bias=False).topk(2)
    imp, _ = exact(b.model(), tmp_path, size=8)
    assert "input 8x8x3 u8\n" in imp.spec


def test_cli_import_writes_spec_and_npz(tmp_path, capsys):
    import onnx

    onnx.save(mobilenet(seed=1), str(tmp_path / "m.onnx"))
    rc = main(["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "m.mbn"), "--verify", "2"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert re.search(r"2 images, [\d,]+ codes: 0 ties, 0 other differences; final output equal on 2/2", out)
    assert (tmp_path / "m.npz").exists()
    assert main(["check", str(tmp_path / "m.mbn")]) == 0
    assert main(["run", str(tmp_path / "m.mbn"), "--random", "1"]) == 0


def test_cli_refuses_with_status_2_and_writes_nothing(tmp_path, capsys):
    import onnx

    b = Builder(8, 8, 3, seed=1)
    b.conv(8, 3, 1, 1, wbits=4).bn().relu_quant(4)
    b.cur = b.node("MaxPool", [b.cur], kernel_shape=[2, 2], strides=[2, 2])[0]
    onnx.save(b.model(), str(tmp_path / "bad.onnx"))
    rc = main(["import", str(tmp_path / "bad.onnx"), "-o", str(tmp_path / "bad.mbn")])
    err = capsys.readouterr().err
    assert rc == 2
    assert re.search(r"error: node '/maxpool_\d+' \(MaxPool\): MaxPool is not supported on uint4 codes", err)
    assert not (tmp_path / "bad.mbn").exists() and not (tmp_path / "bad.npz").exists()


# --- end to end: the imported spec's generated Verilog ---------------------------------------


@pytest.mark.verilator
def test_imported_spec_simulates_bit_exact_in_verilator(tmp_path):
    """The written spec goes through the RTL backend: Verilator output equals the reference,
    whose outputs equal QONNX's (above)."""
    from mbdsl import backends
    from mbdsl.backends.rtl import netsim
    from mbdsl.images import random_images
    from mbdsl.output import write_tree

    m = mobilenet(seed=4, size=12, alpha_channels=(4, 8), classes=6, k=2)
    imp = import_model(m, str(tmp_path / "tiny.mbn"))
    imp.write(str(tmp_path / "tiny.mbn"))
    net = check(load(str(tmp_path / "tiny.mbn")))
    prm = P.make_params(net)
    rtl = tmp_path / "rtl"
    build = Path(__file__).resolve().parents[1] / "build" / "test_qonnx_rtl"
    write_tree(str(rtl), backends.generate("rtl", net, prm))
    netsim.build(rtl, build)
    result = netsim.simulate(net, prm, random_images(net.input, 3, seed=2), rtl, build, stall=0.2, seed=3)
    assert result.exact, str(result.mismatch)


def test_differences_at_rounding_ties_are_counted_not_failed(tmp_path):
    """A code QONNX rounds the other way where its quantizer input sits on a .5 boundary is a
    tie; anywhere else it is a failure."""
    from mbdsl.qonnx_import._verify import _check_layer, _prepared, run_qonnx

    m = mobilenet(seed=1)
    imp = import_model(m, str(tmp_path / "t.mbn"))
    image = images(16, 1)[0]
    ctx = run_qonnx(_prepared(m), image, imp.input_name)
    layer, rec = imp.net.layers[0], imp.sites[0]
    lp = imp.params[layer.name]
    assert _check_layer(imp.net, layer, lp, rec, ctx, image)[1:] == (0, 0)
    step = float(rec.step[0])
    out = ctx[rec.out_tensor].copy()
    pre = ctx[rec.pre_tensor].copy()
    code = int(np.rint(out[0, 0, 0, 0] / step))
    other = code + 1 if code < 15 else code - 1
    doctored = dict(ctx)
    doctored[rec.out_tensor] = out
    doctored[rec.pre_tensor] = pre
    out[0, 0, 0, 0] = other * step
    pre[0, 0, 0, 0] = (min(code, other) + 0.5) * step  # float32 landed on the boundary
    assert _check_layer(imp.net, layer, lp, rec, doctored, image)[1:] == (1, 1)
    pre[0, 0, 0, 0] = (code + 0.2) * step  # far from it: a real difference
    assert _check_layer(imp.net, layer, lp, rec, doctored, image)[1:] == (1, 0)
