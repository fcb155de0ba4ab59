"""The int8 QDQ digits model (examples/digits/digits_int8.onnx, onnxruntime's static
quantization): imported in the multiplier style, scored on the held-out split by the
reference and the GAP8 backend (same predictions), and compared with onnxruntime: every
differing code is a rounding tie or a multiplier rounding (m0 / 2**shift against the float
scale ratio). Graphs outside the supported pattern are refused with pinned messages."""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the int8 import is checked against onnxruntime (pip install 'mbdsl[qonnx]')")

import attrs  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from mbdsl import evaluate as E  # noqa: E402
from mbdsl.cli import main  # noqa: E402
from mbdsl.params import LayerParams, Params  # noqa: E402
from mbdsl.qonnx_import import QonnxImportError, import_model, load_model, verify_qdq  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = os.path.join(ROOT, "examples", "digits")
MODEL = os.path.join(DIGITS, "digits_int8.onnx")
HELDOUT = os.path.join(DIGITS, "heldout.npz")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    d = tmp_path_factory.mktemp("int8")
    spec = d / "digits_int8.mbn"
    assert main(["import", MODEL, "-o", str(spec)]) == 0
    return d, spec


@pytest.fixture(scope="module")
def heldout():
    model = load_model(MODEL)
    imp = import_model(model, "digits_int8.mbn")
    data = E.load_dataset(HELDOUT)
    images = np.stack(E.decode(imp.net, data.sources))
    return model, imp, images, data.labels, verify_qdq(model, imp, images)


def test_import_writes_a_multiplier_spec(imported):
    d, spec = imported
    text = spec.read_text()
    assert "quant multiplier" in text and "activations uint7" in text
    arrays = np.load(d / "digits_int8.npz")
    # The GAP8 constraint: |acc + bias| * m0 + rounding inside int32 (checked again by load_npz).
    assert all(int(arrays[k].max()) < 2**31 for k in arrays.files if k.endswith(".m0"))
    assert {int(arrays[k]) for k in arrays.files if k.endswith(".shift")} <= set(range(32))


@pytest.mark.slow
def test_every_difference_from_onnxruntime_is_a_tie_or_a_multiplier_rounding(heldout):
    model, imp, images, labels, report = heldout
    assert report.images == 450
    assert report.failures == 0, report.table()
    ties = sum(l.ties for l in report.layers)
    mult = sum(l.multiplier for l in report.layers)
    assert ties + mult == sum(l.mismatches for l in report.layers)
    # The same model, the same onnxruntime accuracy as int8.py measured when it wrote the file.
    made = json.load(open(os.path.join(DIGITS, "int8.json")))
    assert float(np.mean(report.ort_top1_optimized == labels)) == pytest.approx(made["int8_top1"])
    # Accuracies differ only through the images whose top-1 differs, and those are few.
    ours = float(np.mean(report.mbdsl_top1 == labels))
    theirs = float(np.mean(report.ort_top1 == labels))
    assert abs(ours - theirs) <= report.top1_differ / 450 + 1e-12
    assert report.top1_differ <= 0.03 * 450


@pytest.mark.slow
def test_a_wrong_multiplier_is_caught(heldout):
    model, imp, images, labels, _ = heldout
    lp = imp.params["b7.pw"]
    off = LayerParams(weights=lp.weights, bias=lp.bias, m0=np.asarray(lp.m0) + 7, shift=lp.shift)
    wrong = attrs.evolve(imp, params=Params({**imp.params, "b7.pw": off}))
    report = verify_qdq(model, wrong, images[:4])
    assert report.failures > 0
    assert next(l for l in report.layers if l.layer == "b7.pw").failures > 0


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["reference", pytest.param("gap8", marks=pytest.mark.gcc)])
def test_eval_on_the_heldout_split(imported, heldout, backend, capsys):
    d, spec = imported
    against = ["--against", "reference"] if backend != "reference" else []
    rc = main(["eval", str(spec), HELDOUT, "--backend", backend, *against,
               "-o", str(d / "eval"), "--build-dir", str(d / "build")])
    out = capsys.readouterr().out
    assert rc == 0, out
    result = json.loads((d / "eval" / f"digits_int8_{backend}.json").read_text())
    assert result["images"] == 450
    if against:
        assert result["against"]["differing_images"] == 0, result["against"]
    _, _, _, labels, report = heldout
    assert result["top1"] == pytest.approx(float(np.mean(report.mbdsl_top1 == labels)))
    assert result["top1"] > 0.85


# --- refused graphs (pinned messages) -------------------------------------------------------


def _edited(edit):
    m = load_model(MODEL)
    edit(m)
    return m


def _init(m, name, value):
    for i, t in enumerate(m.graph.initializer):
        if t.name == name:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(value, name))
            return
    raise KeyError(name)


def _node(m, op, k=0):
    return [n for n in m.graph.node if n.op_type == op][k]


def refused(model, pattern):
    with pytest.raises(QonnxImportError) as info:
        import_model(model, "/nonexistent/x.mbn")
    assert re.fullmatch(pattern, info.value.message), info.value.message


def test_input_not_pixels():
    def edit(m):
        q = _node(m, "QuantizeLinear")
        _init(m, q.input[1], np.array(0.5, np.float32))

    refused(_edited(edit), r"node '.*' \(QuantizeLinear\): the graph input must be quantized to uint8 at scale 1, "
                           r"zero point 0 \(the pixels\)")


def test_asymmetric_activation():
    def edit(m):
        q = _node(m, "QuantizeLinear", 1)
        _init(m, q.input[2], np.array(3, np.int8))

    refused(_edited(edit), r"node '.*' \(QuantizeLinear\): zero point is not 0; mbdsl's multiplier style is symmetric")


def test_unsupported_op():
    def edit(m):
        _node(m, "GlobalAveragePool").op_type = "GlobalMaxPool"

    refused(_edited(edit), r"node '.*' \(GlobalMaxPool\): GlobalMaxPool is not supported in an int8 QDQ graph")


def test_bias_at_another_scale():
    def edit(m):
        conv = _node(m, "Conv", 3)
        dq = next(n for n in m.graph.node if n.output[0] == conv.input[2])
        scale = numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == dq.input[1]))
        _init(m, dq.input[1], (scale * 2).astype(np.float32))

    refused(_edited(edit), r"node '.*' \(Conv\): its bias scale is not input scale x weight scale; "
                           r"the bias is not an integer of the accumulator")


def test_relu_requantized_to_another_scale():
    def edit(m):
        relu = _node(m, "Relu", 2)
        q = next(n for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == relu.output[0])
        scale = numpy_helper.to_array(next(t for t in m.graph.initializer if t.name == q.input[1]))
        name = q.input[1] + "_other"
        m.graph.initializer.append(numpy_helper.from_array((scale * 2).astype(np.float32), name))
        q.input[1] = name
        dq = next(n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == q.output[0])
        dq.input[1] = name

    refused(_edited(edit), r"node '.*' \(QuantizeLinear\): requantizes to another scale after a Relu or Flatten; "
                           r"mbdsl requantizes once per layer")


def test_graph_ending_unquantized():
    def edit(m):
        gemm = _node(m, "Gemm")
        for n in [n for n in m.graph.node if n.input and n.input[0] in (gemm.output[0], "logits_QuantizeLinear_Output")]:
            m.graph.node.remove(n)
        gemm.output[0] = m.graph.output[0].name

    refused(_edited(edit), r"node '.*' \(Gemm\): the graph ends here unquantized; an int8 QDQ graph ends with its "
                           r"last layer's QuantizeLinear \(and DequantizeLinear\)")


def test_cli_refuses_without_writing(tmp_path, capsys):
    m = _edited(lambda m: setattr(_node(m, "GlobalAveragePool"), "op_type", "GlobalMaxPool"))
    path = tmp_path / "bad.onnx"
    onnx.save(m, str(path))
    assert main(["import", str(path), "-o", str(tmp_path / "bad.mbn")]) == 2
    assert "GlobalMaxPool is not supported" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.onnx"]
