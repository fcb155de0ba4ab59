"""``mbdsl check`` on every example spec: exit 0, the per-layer table and the totals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mbdsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.mbn"))
MBDSL = Path(sys.executable).with_name("mbdsl")


def totals(out: str) -> dict[str, str]:
    """The 'name   value' lines printed under the table."""
    keys = ("MACs per frame", "weight memory", "MAC lanes (PE*SIMD)", "initiation interval", "throughput", "checked in")
    found = {}
    for line in out.splitlines():
        for key in keys:
            if line.startswith(key):
                found[key] = line[len(key) :].strip()
    return found


@pytest.mark.parametrize("spec", SPECS, ids=[p.name for p in SPECS])
def test_check_accepts_every_example_spec(spec, capsys):
    assert main(["check", str(spec)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    t = totals(out)
    assert set(t) == {"MACs per frame", "weight memory", "MAC lanes (PE*SIMD)", "initiation interval", "throughput", "checked in"}
    assert re.fullmatch(r"[\d,]+ \([\d.]+ [kMG]\)", t["MACs per frame"])
    assert re.fullmatch(r"[\d.]+ ms", t["checked in"])  # parse + check time
    for name in ("conv0", "b1.dw", "b13.pw", "fc"):
        assert re.search(rf"│ {re.escape(name)} +│", out), name


def test_finn_totals(capsys):
    assert main(["check", str(ROOT / "specs" / "mobilenet_v1_w4a4_u250.mbn")]) == 0
    out = capsys.readouterr().out
    t = totals(out)
    macs = int(t["MACs per frame"].split()[0].replace(",", ""))
    assert macs == 568_026_752 and t["MACs per frame"].endswith("(568.03 M)")  # about 568 M
    assert t["MAC lanes (PE*SIMD)"] == "5,764"
    assert "at 206 MHz" in t["throughput"]
    assert re.search(r"│ conv0 +│ conv +│ 224x224x3 +│ 111x111x32 +│", out)
    assert re.search(r"│ b13\.pw +│ pwconv +│ 7x7x1024 +│ 7x7x1024 +│", out)


@pytest.mark.slow
def test_gap8_spec_macs_match_the_standard_network(capsys):
    """MobileNet-v1 1.0/224 with first-layer padding 1: the well-known 569 M MACs."""
    assert main(["check", str(ROOT / "specs" / "mobilenet_v1_int8_gap8.mbn")]) == 0
    t = totals(capsys.readouterr().out)
    assert t["MACs per frame"].startswith("568,740,352")


@pytest.mark.slow
def test_check_through_the_installed_command():
    spec = ROOT / "specs" / "mobilenet_v1_w0.25_64.mbn"  # includes targets/fpga_200mhz.mbn
    p = subprocess.run([str(MBDSL), "check", str(spec)], capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"), timeout=120)
    assert p.returncode == 0, p.stderr
    assert "at 200 MHz" in totals(p.stdout)["throughput"]


@pytest.mark.slow
def test_check_errors_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.mbn"
    bad.write_text("network n {\n  input 8x8x3 u8\n  conv c 3x3 -> 8 fold(pe = 3)\n}\n")
    p = subprocess.run([str(MBDSL), "check", str(bad)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.startswith(f"{bad}:3:24: error: PE=3 does not divide the 8 output channels of layer c\n")
    assert "Traceback" not in p.stderr


def test_check_missing_file(tmp_path, capsys):
    assert main(["check", str(tmp_path / "nope.mbn")]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(r"error: cannot read spec .*nope\.mbn: no such file or directory\nhint: check the path of the spec\n", err)
