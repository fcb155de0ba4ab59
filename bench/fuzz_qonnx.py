"""Fuzz the QONNX importer for many cases: the mutations of ``tests/test_qonnx_fuzz.py``.

Anything but an :class:`~mbdsl.errors.MbdslError` (or an accepted import) is a bug, and so
is a case that takes more than 10 s.

    .venv/bin/python bench/fuzz_qonnx.py --cases 10000 --seed 11
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def _fuzzlib():
    sys.path.insert(0, str(ROOT / "tests"))
    spec = importlib.util.spec_from_file_location("mbdsl_qonnx_fuzz", ROOT / "tests" / "test_qonnx_fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _timeout(*_):
    raise TimeoutError("more than 10 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fz = _fuzzlib()
    rng = random.Random(args.seed)
    base = fz.base_model()
    counts = {"accepted": 0, "rejected": 0, "BUG": 0}
    signal.signal(signal.SIGALRM, _timeout)
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        for i in range(args.cases):
            model = fz.mutate(base, rng)
            signal.alarm(10)
            try:
                counts[fz.run_case(model)] += 1
            except Exception:  # a traceback or a timeout: a bug
                counts["BUG"] += 1
                print(f"case {i}:\n{traceback.format_exc()}", file=sys.stderr)
            finally:
                signal.alarm(0)
    seconds = time.perf_counter() - t0
    print(f"{args.cases:,} cases ({counts['accepted']:,} accepted, {counts['rejected']:,} rejected), "
          f"{counts['BUG']} bugs, {seconds:.1f} s")
    return 1 if counts["BUG"] else 0


if __name__ == "__main__":
    sys.exit(main())
