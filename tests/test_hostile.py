"""The hostile-input corpus (tests/hostile/cases.py) through the real CLI.

Every case runs as its own ``python -m mbdsl`` process, in a folder of its own, with a
10 s time limit and a 1 GiB address-space limit, and must be refused cleanly: exit status
2, no traceback, a message that names the problem, and the folder exactly as before (no
output, no staging leftovers). The cases run on a thread pool (one process per core),
once per session; each case is its own test that reads its result.

Also here: generated code for layers named after keywords parses, names that collide after
mangling are refused, and what a killed ``gen`` left behind is removed by the next one.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs
import pytest

from hostile.cases import CASES, SPEC, Case

TIME_LIMIT = 10.0
MEMORY_LIMIT = 1 << 30


@attrs.frozen
class Outcome:
    status: int | None  # None: killed at the time limit
    stderr: str
    seconds: float
    peak_kib: int
    changed: list[str]


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.setsid()


def _snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size if not p.is_dir() else 0, st.st_mtime_ns)
    return out


def run_case(case: Case, root: Path) -> Outcome:
    d = root / re.sub(r"[^\w.=-]", "_", case.id)
    d.mkdir()
    (d / "s.mbn").write_text(SPEC)
    if case.setup:
        case.setup(d)
    before = _snapshot(d)
    err_path = root / f"{d.name}.stderr"
    t0 = time.perf_counter()
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "mbdsl", *case.argv], cwd=d, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, preexec_fn=_limits)
    status, peak = None, 0
    while True:
        pid, wait_status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, peak = os.waitstatus_to_exitcode(wait_status), usage.ru_maxrss
            break
        if time.perf_counter() - t0 > TIME_LIMIT:
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    proc.returncode = status if status is not None else -9  # reaped above: keep Popen from waiting again
    seconds = time.perf_counter() - t0
    after = _snapshot(d)
    changed = sorted(set(before.items()) ^ set(after.items()))
    return Outcome(status, err_path.read_text(errors="replace"), seconds, peak, [c[0] for c in changed])


@pytest.fixture(scope="session")
def outcomes(request):
    """The outcome of every case the session selected (all of them if test_figures runs)."""
    selected = {item.callspec.params["case"].id for item in request.session.items  # other modules have a "case" too
                if getattr(item, "callspec", None) and isinstance(item.callspec.params.get("case"), Case)}
    if any(item.name == "test_figures" for item in request.session.items):
        selected = {c.id for c in CASES}
    root = Path(tempfile.mkdtemp(prefix="mbdsl-hostile-"))
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            futures = {c.id: pool.submit(run_case, c, root) for c in CASES if c.id in selected}
            yield {k: f.result() for k, f in futures.items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_corpus_is_large_and_names_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 300


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_refused_cleanly(case: Case, outcomes):
    o = outcomes[case.id]
    assert o.status is not None, f"hung: killed after {TIME_LIMIT} s; stderr: {o.stderr[-500:]}"
    assert "Traceback" not in o.stderr, o.stderr[-2000:]
    assert o.status == 2, f"exit status {o.status}; stderr: {o.stderr[-800:]}"
    assert re.search(case.expect, o.stderr), f"{case.expect!r} not in: {o.stderr[-800:]}"
    assert o.changed == [], f"left on disk: {o.changed}"


@pytest.mark.slow
def test_figures(outcomes, capsys):
    """Prints the figures docs/results.md records (run with -s to see them)."""
    worst = max(outcomes.items(), key=lambda kv: kv[1].peak_kib)
    slowest = max(outcomes.items(), key=lambda kv: kv[1].seconds)
    families: dict[str, int] = {}
    for c in CASES:
        families[c.family] = families.get(c.family, 0) + 1
    with capsys.disabled():
        print(f"\nhostile corpus: {len(CASES)} cases: " + ", ".join(f"{k} {v}" for k, v in families.items()))
        print(f"tracebacks {sum('Traceback' in o.stderr for o in outcomes.values())}, "
              f"hangs {sum(o.status is None for o in outcomes.values())}")
        print(f"peak memory {worst[1].peak_kib / 1024:.0f} MiB ({worst[0]}), slowest {slowest[1].seconds:.1f} s ({slowest[0]})")
    assert worst[1].peak_kib < MEMORY_LIMIT // 1024
