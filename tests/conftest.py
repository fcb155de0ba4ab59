"""Session-wide helpers for the tests.

The yosys synthesis of a small generated top (``bench/synth_top.py``) takes about ten
minutes on one core, so it starts in a background process as soon as collection has
selected ``test_rtl_synth.py``; the rest of the suite runs meanwhile, the test collects the
result (:func:`top_synthesis`), and the process is killed if the session ends first.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_job: dict = {}


def _start() -> None:
    if _job:
        return
    out = Path(tempfile.mkdtemp(prefix="mbdsl-top-synth-")) / "result.json"
    cmd = [sys.executable, str(ROOT / "bench" / "synth_top.py"), "--nodsp", "--json", str(out)]
    _job.update(out=out, proc=subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))


def pytest_collection_finish(session):
    if any(item.path.name == "test_rtl_synth.py" for item in session.items):
        _start()


def pytest_sessionfinish(session, exitstatus):
    if _job and _job["proc"].poll() is None:
        _job["proc"].kill()


@pytest.fixture(scope="session")
def top_synthesis():
    """bench/synth_top.py's results (JSON) and its printed report for the small spec."""
    _start()
    report, _ = _job["proc"].communicate()
    assert _job["out"].exists(), f"bench/synth_top.py failed:\n{report}"
    return json.loads(_job["out"].read_text()), report
