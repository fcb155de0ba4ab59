"""GAP8 benchmark: the full MobileNet-v1 int8 spec, bit-exact on the host, with the plan
(tiling, memory, modeled cycles per layer) and the model's calibration against the seed.

    .venv/bin/python bench/gap8_full.py [--images N] [--spec PATH]

Prints markdown tables (the figures in docs/results.md come from this script).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from mbdsl.backends.gap8 import calibrate, host, plan_network, plan_table  # noqa: E402
from mbdsl.frontend import load  # noqa: E402
from mbdsl.images import random_images  # noqa: E402
from mbdsl.params import make_params  # noqa: E402
from mbdsl.passes import check  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def md(rows, cols):
    out = ["| " + " | ".join(c for c, _ in cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join(f(r) for _, f in cols) + " |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default=os.path.join(ROOT, "specs", "mobilenet_v1_int8_gap8.mbn"))
    ap.add_argument("--images", type=int, default=2)
    args = ap.parse_args()
    net = check(load(args.spec))
    t0 = time.perf_counter()
    params = make_params(net)
    t1 = time.perf_counter()
    plan = plan_network(net)
    t2 = time.perf_counter()
    print(f"## {net.name}: params {t1 - t0:.1f} s, plan {t2 - t1:.1f} s\n")
    print(f"Budgets: L1 {plan.l1_budget:,} B for tiles, L2 {plan.l2_budget:,} B for data (used {plan.l2_bytes:,}), "
          f"L3 {plan.target.l3:,} B (used {plan.l3_bytes:,}), {plan.target.cores} cores at {plan.target.clock_hz / 1e6:g} MHz\n")
    rows = plan_table(plan)
    print(md(rows, [
        ("layer", lambda r: r["layer"]), ("kind", lambda r: r["kind"]), ("tile HxWxC", lambda r: r["tile"]),
        ("loop", lambda r: r["order"]), ("tiles", lambda r: f"{r['tiles']:,}"), ("L1 B", lambda r: f"{r['l1_bytes']:,}"),
        ("in/w/out", lambda r: f"{r['in']}/{r['weights']}/{r['out']}"), ("DMA L2<->L1 B", lambda r: f"{r['dma_bytes']:,}"),
        ("L3 B", lambda r: f"{r['l3_bytes']:,}"), ("L2 staging B", lambda r: f"{r['stage_bytes']:,}"),
        ("cycles", lambda r: f"{r['cycles']:,}"), ("bound", lambda r: r["bound"]),
    ]))  # fmt: skip
    total = plan.total_cycles
    print(f"\nmbdsl plan, modeled total: **{total:,.0f} cycles** ({total / 1e6:.2f} M; "
          f"{calibrate.SEED_TOTAL / total:.2f}x fewer than the seed's {calibrate.SEED_TOTAL / 1e6:.1f} M; "
          f"{total / plan.target.clock_hz * 1e3:.1f} ms at {plan.target.clock_hz / 1e6:g} MHz)\n")

    sp = calibrate.seed_plan(net)
    cal = calibrate.compare(sp)
    mt = sum(r["model"] for r in cal)
    print("## Cycle model vs the seed (AutoTiler budgets L1 50,000 B, L2 350,000 B; SEED_COSTS)\n")
    print(md(cal, [
        ("row", lambda r: str(r["row"])), ("layer", lambda r: r["layer"]), ("kind", lambda r: r["kind"]),
        ("model", lambda r: f"{r['model']:,}"), ("seed", lambda r: f"{r['seed']:,}"), ("error", lambda r: f"{r['error'] * 100:+.1f}%"),
    ]))  # fmt: skip
    print(f"| | **total** | | **{mt:,}** | **{calibrate.SEED_TOTAL:,}** | **{(mt / calibrate.SEED_TOTAL - 1) * 100:+.2f}%** |")
    errs = sorted(abs(r["error"]) for r in cal)
    print(f"\nmedian |error| {errs[len(errs) // 2] * 100:.1f}%, max {errs[-1] * 100:.1f}%, "
          f"rows within 10%: {sum(e < 0.10 for e in errs)}/29, within 25%: {sum(e < 0.25 for e in errs)}/29\n")

    if args.images:
        images = random_images(net.input, args.images, seed=0)
        t3 = time.perf_counter()
        hr = host.run(net, params, images, plan=plan)
        t4 = time.perf_counter()
        bad = host.compare(net, params, images, hr)
        t5 = time.perf_counter()
        print(f"## Host run ({args.images} images)\n")
        print(f"build {hr.build_seconds:.1f} s; run per image " + ", ".join(f"{s:.2f} s" for s in hr.seconds)
              + f"; build+run {t4 - t3:.1f} s; reference compare {t5 - t4:.1f} s")
        print("bit-exact: " + ("yes, every traced layer of every image" if bad is None else f"NO: {bad}"))
        if bad is not None:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
