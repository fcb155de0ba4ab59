"""pytest-side helper: generate a case, build the DUT for its parameters, run its bench."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import time
from pathlib import Path

from mbdsl.backends.rtl import verilator as vl
from mbdsl.backends.rtl.sources import hdl_sources
from tbutil import CASE_ENV, RESULT_ENV, write_case

REPO = Path(__file__).resolve().parent.parent
SIM_ROOT = Path(os.environ.get("MBDSL_SIM_BUILD", REPO / "build" / "rtl_sim"))
CCACHE_DIR = SIM_ROOT.parent / "rtl_ccache"


def _key(obj) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


def simulate(unit: str, p: dict, *, seed: int = 1, frames: int = 2, p_valid: float = 0.7,
             p_ready: float = 0.7, cycles_hint: int | None = None, tamper=None) -> tuple[dict, dict]:
    """Build ``mbdsl_<unit>`` for case ``p`` and stream the case through it.

    Returns (case, result): the generator's case dict and the bench's result
    (``errors``, ``out_cycles`` = cycle stamp of every output beat, ``cycles``, and
    ``failed``: the cocotb tests that failed). ``tamper(beats)`` alters the expected output
    beats the bench is given (to show that the bench fails).
    """
    tb = importlib.import_module(f"tb_{unit}")
    workdir = SIM_ROOT / "cases" / f"{unit}_{_key([p, seed, frames])}"
    workdir.mkdir(parents=True, exist_ok=True)
    case = tb.make_case(p, seed=seed, frames=frames, workdir=workdir)
    params = case["params"]
    bdir = vl.build_dir_for(SIM_ROOT, tb.TOP, params)
    bdir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    runner = vl.build(hdl_sources(tb.TOP), tb.TOP, params, bdir, ccache_dir=CCACHE_DIR,
                      log_file=bdir / "build.log")
    hint = cycles_hint or case.get("cycles") or (len(case["inp"]) + len(case["out"]))
    slow = min(p_valid, p_ready)
    max_cycles = int(4 * (hint + 100) / max(slow, 0.05)) + 2000
    case_file = workdir / f"case_{p_valid}_{p_ready}.json"
    res_file = workdir / f"result_{p_valid}_{p_ready}.json"
    if res_file.exists():
        res_file.unlink()
    expected = case["out"] if tamper is None else tamper(list(case["out"]))
    write_case(case_file, tb.TOP, case["inp"], expected, seed=seed, p_valid=p_valid,
               p_ready=p_ready, max_cycles=max_cycles, out_beats_per_frame=case.get("bpf"), load=case.get("load", ()),
               side=case.get("side"))
    t1 = time.time()
    _, failed = vl.run(runner, f"tb_{unit}", tb.TOP, bdir,
                       extra_env={CASE_ENV: str(case_file), RESULT_ENV: str(res_file)}, seed=seed)
    print(f"{unit} {bdir.name}: build {t1 - t0:.1f} s, run {time.time() - t1:.1f} s")
    if not res_file.exists():
        raise RuntimeError(f"simulation of {unit} {p} wrote no result; see {bdir}")
    return case, json.loads(res_file.read_text()) | {"failed": failed}
