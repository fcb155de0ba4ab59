"""Fuzz the frontend and passes at scale: the generators and oracle of tests/test_fuzz.py.

    .venv/bin/python bench/fuzz.py                 # 10,000 cases: 4,000 grammar, 6,000 mutations
    .venv/bin/python bench/fuzz.py --cases 50000 --seed 3

Prints the outcome counts (accepted, rejected by error class) per generator and the time.
A case that raises anything but an MbdslError (or breaks the oracle's rules on spans) is a
bug: it is printed with its text and the run exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parent.parent


def _fuzzlib():
    spec = importlib.util.spec_from_file_location("mbdsl_fuzz", ROOT / "tests" / "test_fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="total cases (default 10,000)")
    parser.add_argument("--grammar-share", type=float, default=0.4, help="share drawn from the grammar (default 0.4)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the mutations")
    args = parser.parse_args(argv)
    fz = _fuzzlib()

    n_grammar = int(args.cases * args.grammar_share)
    n_mutate = args.cases - n_grammar
    counts: dict[str, Counter] = {"grammar": Counter(), "mutation": Counter()}
    bugs: list[tuple[str, str, str]] = []

    def record(kind: str, text: str, path: str) -> None:
        try:
            counts[kind][fz.run_case(text, path)] += 1
        except Exception:  # the oracle's failures and any traceback: both are bugs
            counts[kind]["BUG"] += 1
            bugs.append((kind, text, traceback.format_exc()))

    t0 = time.perf_counter()

    @settings(
        max_examples=n_grammar,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(fz.grammar_strategy())
    def grammar(text):
        record("grammar", text, "fuzz.mbn")

    if n_grammar:
        grammar()
    t_grammar = time.perf_counter() - t0

    rng = random.Random(args.seed)
    t1 = time.perf_counter()
    for _ in range(n_mutate):
        path, text = rng.choice(fz.SEEDS)
        record("mutation", fz.mutate(text, random.Random(rng.getrandbits(64))), path)
    t_mutate = time.perf_counter() - t1

    for kind, seconds in (("grammar", t_grammar), ("mutation", t_mutate)):
        c = counts[kind]
        total = sum(c.values())
        print(f"{kind}: {total:,} cases in {seconds:.1f} s ({total / max(seconds, 1e-9):,.0f}/s)")
        print(f"  accepted                 {c['accepted']:6,}")
        for outcome, n in sorted(((o, n) for o, n in c.items() if o.startswith("rejected:")), key=lambda x: -x[1]):
            print(f"  {outcome:<25}{n:6,}")
        if c["BUG"]:
            print(f"  BUG                      {c['BUG']:6,}")
    total = sum(sum(c.values()) for c in counts.values())
    print(f"total: {total:,} cases, {len(bugs)} bugs, {time.perf_counter() - t0:.1f} s")
    for kind, text, tb in bugs[:5]:
        print(f"\n--- {kind} case ---\n{text}\n{tb}")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
