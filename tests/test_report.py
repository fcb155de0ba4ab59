"""``mbdsl report``: the HTML page, its plots, and the GAP8 tiling table."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from mbdsl.cli import main
from mbdsl.commands.common import load_checked
from mbdsl.report import build_report

pytestmark = pytest.mark.slow  # building a report takes seconds

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "specs" / "mobilenet_v1_w0.25_32.mbn"
GAP8 = ROOT / "specs" / "mobilenet_v1_int8_w0.25_32.mbn"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def small():
    return build_report(load_checked(str(SMALL)), str(SMALL))


def test_fpga_report_has_every_section_and_plot(small):
    html = small.html
    for title in ("Cycles per layer", "Estimated FPGA resources", "Memory per layer", "Layers"):
        assert f"<h2>{title}</h2>" in html
    assert set(small.images) == {"cycles.png", "resources.png", "memory.png"}
    for data in small.images.values():
        assert data.startswith(PNG)
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(embedded) == 3 and all(base64.b64decode(e).startswith(PNG) for e in embedded)
    assert "GAP8 tiling plan" not in html


def test_bottleneck_row_is_marked(small):
    rows = re.findall(r'<tr class="bottleneck"><td class="l">([^<]+)</td>', small.html)
    assert len(rows) == 1  # exactly one layer sets the II
    assert re.search(r"<dt>estimated resources</dt><dd>[\d,]+ LUT, [\d,]+ FF, [\d,]+ BRAM18, [\d,]+ DSP", small.html)


def test_gap8_report_shows_the_tiling_table():
    from mbdsl.backends.gap8 import plan_network, plan_table

    net = load_checked(str(GAP8))
    report = build_report(net, str(GAP8))
    assert "<h2>GAP8 tiling plan</h2>" in report.html
    rows = plan_table(plan_network(net))
    for r in rows:
        assert f'<td class="l">{r["layer"]}</td>' in report.html
    assert "gap8_cycles.png" in report.images
    # without its parameters a multiplier-style network has no RTL estimate: the page says so instead of a resource plot
    assert "No FPGA resource estimate" in report.html and "resources.png" not in report.images


def test_report_command_estimates_a_multiplier_style_network_with_its_parameters(tmp_path):
    out = tmp_path / "int8.html"
    assert main(["report", str(GAP8), "-o", str(out), "--png"]) == 0
    assert "No FPGA resource estimate" not in out.read_text()
    assert (tmp_path / "int8_resources.png").is_file()


def test_report_command_writes_the_file_and_pngs(tmp_path, capsys):
    out = tmp_path / "r" / "report.html"
    assert main(["report", str(SMALL), "-o", str(out), "--png"]) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html", "report_cycles.png", "report_memory.png", "report_resources.png"]
    assert "wrote" in capsys.readouterr().out
