"""The trained digits example (examples/digits/): its committed QONNX model is imported and
scored on the committed held-out split; every backend gives the same predictions, and
QONNX's float32 execution the same except after rounding ties."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from mbdsl.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGITS = os.path.join(ROOT, "examples", "digits")
HELDOUT = os.path.join(DIGITS, "heldout.npz")


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    d = tmp_path_factory.mktemp("digits")
    spec = str(d / "digits.mbn")
    assert main(["import", os.path.join(DIGITS, "digits.onnx"), "-o", spec]) == 0
    return d, spec


def evaluate(d, spec, backend, capsys, *extra):
    rc = main(["eval", spec, HELDOUT, "--backend", backend, "--against", "reference", "-o", str(d / "eval"),
               "--build-dir", str(d / "build"), *extra])
    text = capsys.readouterr().out
    assert rc == 0, text
    result = json.loads((d / "eval" / f"digits_{backend}.json").read_text())
    assert result["images"] == 450
    assert result["against"]["differing_images"] == 0, result["against"]
    return result


@pytest.mark.gcc
def test_hls_agrees_with_the_reference_and_the_network_is_trained(imported, capsys):
    d, spec = imported
    result = evaluate(d, spec, "hls", capsys, "-j", "2")
    labels = np.load(HELDOUT)["labels"]
    outputs = np.array(result["outputs"])
    assert result["top1"] == pytest.approx(float(np.mean(outputs[:, 0] == labels)))
    # A trained network, far above chance (10%), and within a point of what PyTorch measured
    # at the end of training (examples/digits/train.json).
    trained = json.load(open(os.path.join(DIGITS, "train.json")))
    assert result["top1"] > 0.85
    assert abs(result["top1"] - trained["torch_top1"]) <= 0.01


@pytest.mark.verilator
def test_rtl_agrees_with_the_reference(imported, capsys):
    d, spec = imported
    result = evaluate(d, spec, "rtl", capsys, "-j", "2")
    assert result["throughput"]["simulated_cycles_per_image"] > 0


@pytest.mark.slow
def test_qonnx_differs_only_after_rounding_ties(tmp_path):
    out = tmp_path / "agreement.json"
    proc = subprocess.run([sys.executable, os.path.join(DIGITS, "qonnx_agreement.py"), "--json", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    f = json.loads(out.read_text())
    assert f["images"] == 450
    assert f["other_differences"] == 0
    assert f["explained_by_ties"] == f["differing_images"]
    assert f["equal_score_orderings"] + f["after_rounding_ties"] == f["differing_images"]
    # Accuracies can differ only through the images whose top-1 differs.
    assert abs(f["reference_top1"] - f["qonnx_top1"]) <= f["differing_top1"] / f["images"] + 1e-12
    if f["differing_images"]:
        assert f["ties_in_differing"] > 0
