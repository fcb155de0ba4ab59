"""The test tiers: which external tool a test starts is a marker, and a test that starts one
without its marker fails.

Markers (registered in pyproject.toml): ``verilator``, ``yosys``, ``gcc``, ``impl`` (place
and route) name the tools a test starts; ``slow`` keeps a test out of the fast tier
(``pytest -m "not slow"``). Every test marked for one of the tools is slow as well: each
run of those tools takes seconds to minutes.

The check is an audit hook (PEP 578) on ``subprocess.Popen``: it sees every process the
test session starts and, through ``sitecustomize.py`` in this folder (on the children's
``PYTHONPATH``), every process a Python child starts, e.g. ``python -m mbdsl sim``. The
tools started while a test's setup and call run must be among its markers.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest
from toolnames import LOG_ENV, SLOW_TOOLS, tool_marker

HERE = Path(__file__).resolve().parent
_STARTED = pytest.StashKey[set]()
_seen: set[str] | None = None  # the tools started while a test runs (None between tests)


def _audit(event: str, args) -> None:
    if event == "subprocess.Popen" and _seen is not None:
        marker = tool_marker(args[0], args[1])
        if marker:
            _seen.add(marker)


def pytest_configure(config):
    sys.addaudithook(_audit)
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), path] if path else [str(HERE)])


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(m) for m in SLOW_TOOLS) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _seen
    fd, log = tempfile.mkstemp(prefix="mbdsl-toolmarks-", suffix=".log")
    os.close(fd)
    os.environ[LOG_ENV] = log
    _seen = item.stash[_STARTED] = set()
    try:
        yield
    finally:
        _seen = None
        del os.environ[LOG_ENV]
        os.unlink(log)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    report = (yield).get_result()
    if call.when != "call" or not report.passed:
        return
    started = item.stash[_STARTED] | set(Path(os.environ[LOG_ENV]).read_text().split())
    unmarked = sorted(m for m in started if not item.get_closest_marker(m))
    if unmarked:
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} started {', '.join(unmarked)} but is not marked "
                           + " ".join(f"@pytest.mark.{m}" for m in unmarked)
                           + " (see tests/toolmarks/toolmarks.py)")
