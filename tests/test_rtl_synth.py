"""yosys ``synth_xilinx -nodsp`` of the small spec's generated top (bench/synth_top.py, run in
the background from conftest.py): it synthesizes, infers no latch, and its block RAM count
is the resource model's (LUT and FF within 25%)."""

from __future__ import annotations


def test_small_top_synthesizes_without_latches(top_synthesis):
    result, report = top_synthesis
    print(report)
    assert result["latches"] == [], report
    real, model = result["yosys"], result["model"]
    assert real["dsp"] == 0 and real["bram18"] == model["bram18"], report
    assert real["lut"] > 10_000 and abs(model["lut"] - real["lut"]) <= 0.25 * real["lut"], report
    assert abs(model["ff"] - real["ff"]) <= 0.25 * real["ff"], report
