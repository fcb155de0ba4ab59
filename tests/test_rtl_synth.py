"""yosys ``synth_xilinx -nodsp`` of the small spec's generated top (bench/synth_top.py, about
ten minutes on one core): it synthesizes, infers no latch, and its block RAM count is the
resource model's (LUT and FF within 25%)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.yosys
def test_small_top_synthesizes_without_latches(tmp_path):
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "synth_top.py"), "--nodsp", "--json", str(out)],
                          capture_output=True, text=True)
    report = proc.stdout + proc.stderr
    print(report)
    assert out.exists(), f"bench/synth_top.py failed:\n{report}"
    result = json.loads(out.read_text())
    assert result["latches"] == [], report
    real, model = result["yosys"], result["model"]
    assert real["dsp"] == 0 and real["bram18"] == model["bram18"], report
    assert real["lut"] > 10_000 and abs(model["lut"] - real["lut"]) <= 0.25 * real["lut"], report
    assert abs(model["ff"] - real["ff"]) <= 0.25 * real["ff"], report
