"""Validate the resource model (mbdsl.backends.rtl.resources) against yosys synthesis of the generated units.

    .venv/bin/python bench/resources.py [--jobs N] [--only-cached] [--fit] [--stages SPEC]

Every configuration is synthesized with ``synth_xilinx -family xcup`` twice (multipliers in
LUTs with ``-nodsp``, and yosys' default DSP mapping); results are cached in
``build/resources/synth_cache.json``, so a second run only prints the table. ``--stages SPEC``
synthesizes (``-nodsp``) every distinct stage of a spec's generated top alone, with the spec's
own ROM images, beside the model: what a whole top's error is made of.
"""
from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor

CACHE = "build/resources/synth_cache.json"


def _mac(module, pe, simd, in_bits=4, w_bits=4, acc=14, n_thres=15, **shape):
    return (module, {**shape, "PE": pe, "SIMD": simd, "IN_BITS": in_bits, "IN_SIGNED": 0, "W_BITS": w_bits, "W_SIGNED": 1,
                     "ACC_BITS": acc, "N_THRES": n_thres, "OUT_BITS": 4 if n_thres else acc, "OUT_MIN": 0})


def _swg(h, c, cpar, k=3, s=1, p=1, bits=4, kpar=1, dw=1):
    return ("mbdsl_swg", {"IFM_H": h, "IFM_W": h, "C": c, "K": k, "STRIDE": s, "PAD": p, "BITS": bits, "CPAR": cpar, "KPAR": kpar, "DW": dw})


DSP_MODULES = ("mbdsl_mvau", "mbdsl_vvau", "mbdsl_swg")

CONFIGS = [
    # matrix-vector units (pointwise, first conv, classifier)
    _mac("mbdsl_mvau", 8, 8, acc=12, MH=16, MW=8),
    _mac("mbdsl_mvau", 8, 8, acc=14, MH=32, MW=32),
    _mac("mbdsl_mvau", 4, 8, acc=15, MH=64, MW=64),
    _mac("mbdsl_mvau", 8, 8, acc=16, MH=128, MW=128),
    _mac("mbdsl_mvau", 4, 4, acc=17, MH=256, MW=256),
    _mac("mbdsl_mvau", 2, 16, acc=15, MH=128, MW=64),
    _mac("mbdsl_mvau", 16, 16, acc=14, MH=64, MW=32),
    _mac("mbdsl_mvau", 8, 3, in_bits=8, w_bits=8, acc=22, MH=8, MW=27),
    _mac("mbdsl_mvau", 1, 8, acc=17, n_thres=0, MH=10, MW=256),
    _mac("mbdsl_mvau", 4, 4, acc=20, n_thres=0, MH=1000, MW=1024),
    # depthwise vector units
    _mac("mbdsl_vvau", 8, 1, acc=12, C=8, K2=9),
    _mac("mbdsl_vvau", 4, 1, acc=12, C=32, K2=9),
    _mac("mbdsl_vvau", 2, 1, acc=12, C=128, K2=9),
    _mac("mbdsl_vvau", 16, 3, acc=12, C=64, K2=9),
    _mac("mbdsl_vvau", 32, 1, acc=12, C=512, K2=9),
    _mac("mbdsl_vvau", 2, 1, acc=12, C=16, K2=9),
    _mac("mbdsl_vvau", 1, 1, acc=10, C=8, K2=9),
    # window generators
    _swg(32, 3, 3, s=2, bits=8, dw=0),
    _swg(16, 8, 8),
    _swg(56, 128, 16),
    _swg(14, 512, 16, kpar=3),
    _swg(224, 3, 3, s=2, p=0, bits=8, dw=0),
    _swg(7, 1024, 8),
    # FIFOs
    ("mbdsl_fifo", {"WIDTH": 24, "DEPTH": 32}),
    ("mbdsl_fifo", {"WIDTH": 128, "DEPTH": 111}),
    ("mbdsl_fifo", {"WIDTH": 4, "DEPTH": 256}),
    ("mbdsl_fifo", {"WIDTH": 64, "DEPTH": 2}),
    ("mbdsl_fifo", {"WIDTH": 256, "DEPTH": 112}),
    # width converters
    ("mbdsl_dwc", {"IN_ELEMS": 8, "OUT_ELEMS": 4, "BITS": 4, "TOTAL": 32}),
    ("mbdsl_dwc", {"IN_ELEMS": 1, "OUT_ELEMS": 8, "BITS": 4, "TOTAL": 128}),
    ("mbdsl_dwc", {"IN_ELEMS": 32, "OUT_ELEMS": 16, "BITS": 4, "TOTAL": 64}),
    # pool, top-k, NV12
    ("mbdsl_pool", {"C": 1024, "PE": 4, "N_PIX": 49, "IN_BITS": 4, "SUM_BITS": 10, "SHIFT": 6, "OUT_BITS": 4}),
    ("mbdsl_pool", {"C": 256, "PE": 1, "N_PIX": 4, "IN_BITS": 4, "SUM_BITS": 6, "SHIFT": 2, "OUT_BITS": 4}),
    ("mbdsl_topk", {"N": 1000, "IN_BITS": 20, "K": 5}),
    ("mbdsl_topk", {"N": 10, "IN_BITS": 17, "K": 3}),
    ("mbdsl_nv12", {"W": 32, "H": 32}),
]


def synth_all(jobs: int, only_cached: bool, reverse: bool = False, small_first: bool = False) -> dict:
    from mbdsl.backends.rtl.synth import synthesize

    # multipliers only matter in the MAC units (and the window generator's address arithmetic)
    # (the 4-Mbit classifier ROM takes yosys over 20 minutes in DSP mode: -nodsp only)
    work = [(m, p, True) for m, p in CONFIGS] + [(m, p, False) for m, p in CONFIGS if m in DSP_MODULES and p.get("MH") != 1000]
    if reverse:  # a second worker can take the queue from the other end
        work = work[::-1]
    if small_first:
        from mbdsl.backends.rtl.resources import unit

        work.sort(key=lambda w: unit(w[0], w[1]).lut)
    results = {}

    def one(item):
        m, p, nodsp = item
        if only_cached:
            return item, cached(m, p, nodsp)
        try:
            return item, synthesize(m, p, nodsp, cache=CACHE)
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            print(f"  failed {m} {p} {'nodsp' if nodsp else 'dsp'}: {str(exc)[:300]}", file=sys.stderr, flush=True)
            return item, None

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for (m, p, nodsp), cells in pool.map(one, work):
            if not only_cached:
                print(f"  synthesized {m} {'nodsp' if nodsp else 'dsp'} {p}", file=sys.stderr, flush=True)
            results[(m, tuple(p.items()), nodsp)] = cells
    return results


def cached(module: str, params: dict, nodsp: bool):
    import json
    import os

    from mbdsl.backends.rtl.synth import synth_key

    if not os.path.exists(CACHE):
        return None
    with open(CACHE) as f:
        return json.load(f).get(synth_key(module, params, nodsp))


_SHORT = {
    "mbdsl_mvau": lambda p: f"MH{p['MH']} MW{p['MW']} PE{p['PE']} SIMD{p['SIMD']} {p['IN_BITS']}x{p['W_BITS']}b" + ("" if p["N_THRES"] else " raw"),
    "mbdsl_vvau": lambda p: f"C{p['C']} PE{p['PE']} SIMD{p['SIMD']} {p['IN_BITS']}x{p['W_BITS']}b",
    "mbdsl_swg": lambda p: f"{p['IFM_H']}x{p['IFM_W']}x{p['C']} K{p['K']} S{p['STRIDE']} CPAR{p['CPAR']} KPAR{p['KPAR']} {p['BITS']}b",
    "mbdsl_fifo": lambda p: f"{p['WIDTH']}b x {p['DEPTH']}",
    "mbdsl_dwc": lambda p: f"{p['IN_ELEMS']}->{p['OUT_ELEMS']} x {p['BITS']}b",
    "mbdsl_pool": lambda p: f"C{p['C']} PE{p['PE']} {p['N_PIX']} px",
    "mbdsl_topk": lambda p: f"N{p['N']} K{p['K']} {p['IN_BITS']}b",
    "mbdsl_nv12": lambda p: f"{p['W']}x{p['H']}",
}


def _err(model: float, real: float) -> float | None:
    if real == 0:
        return None if model == 0 else float("inf")
    return (model - real) / real


def compare(results: dict) -> tuple[list[dict], dict]:
    """Rows of model vs synthesis, and the error summary per resource kind."""
    from mbdsl.backends.rtl.resources import unit
    from mbdsl.backends.rtl.synth import cell_resources

    rows = []
    for (m, items, nodsp), cells in results.items():
        if cells is None:
            continue
        p = dict(items)
        real = cell_resources(cells)
        est = unit(m, p, "lut" if nodsp else "yosys")
        rows.append({
            "unit": m.removeprefix("mbdsl_"), "config": _SHORT[m](p), "mode": "-nodsp" if nodsp else "dsp",
            "real": real, "model": est,
            "lut_err": _err(est.lut, real.lut), "ff_err": _err(est.ff, real.ff),
        })
    summary = {}
    for kind in ("lut", "ff"):
        errs = [abs(r[f"{kind}_err"]) for r in rows if r[f"{kind}_err"] is not None]
        summary[kind] = {
            "mean": sum(errs) / len(errs) if errs else 0.0, "max": max(errs, default=0.0),
            "within25": sum(e <= 0.25 for e in errs), "n": len(errs),
        }
    for kind, field in (("bram18", "bram18"), ("dsp", "dsp")):
        exact = sum(getattr(r["model"], field) == getattr(r["real"], field) for r in rows)
        summary[kind] = {"exact": exact, "n": len(rows)}
    return rows, summary


def _pct(e) -> str:
    return "" if e is None else ("inf" if e == float("inf") else f"{e * 100:+.0f}%")


def table_markdown(rows: list[dict], summary: dict) -> str:
    lines = [
        "| unit | configuration | synth | LUT yosys | LUT model | err | FF yosys | FF model | err | BRAM18 yosys / model | DSP yosys / model |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        real, est = r["real"], r["model"]
        lines.append(
            f"| {r['unit']} | {r['config']} | {r['mode']} | {real.lut:,} | {est.lut:,.0f} | {_pct(r['lut_err'])} | "
            f"{real.ff:,} | {est.ff:,.0f} | {_pct(r['ff_err'])} | {real.bram18} / {est.bram18} | {real.dsp} / {est.dsp} |"
        )
    s = summary
    lines += [
        "",
        f"- LUT: mean |error| {s['lut']['mean'] * 100:.1f}%, max {s['lut']['max'] * 100:.1f}%, "
        f"{s['lut']['within25']} of {s['lut']['n']} within ±25%",
        f"- FF: mean |error| {s['ff']['mean'] * 100:.1f}%, max {s['ff']['max'] * 100:.1f}%, "
        f"{s['ff']['within25']} of {s['ff']['n']} within ±25%",
        f"- BRAM18: exact in {s['bram18']['exact']} of {s['bram18']['n']} syntheses",
        f"- DSP: exact in {s['dsp']['exact']} of {s['dsp']['n']} syntheses",
    ]
    return "\n".join(lines) + "\n"


def nnls(a, b, iters: int = 500):
    """Non-negative least squares (Lawson and Hanson's active-set method) in numpy."""
    import numpy as np

    m, n = a.shape
    x = np.zeros(n)
    passive = np.zeros(n, bool)
    w = a.T @ (b - a @ x)
    for _ in range(iters):
        if passive.all() or (w[~passive] <= 1e-10).all():
            break
        j = np.argmax(np.where(~passive, w, -np.inf))
        passive[j] = True
        while True:
            z = np.zeros(n)
            z[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if (z[passive] > 0).all():
                x = z
                break
            neg = passive & (z <= 0)
            alpha = np.min(x[neg] / (x[neg] - z[neg]))
            x = x + alpha * (z - x)
            passive &= x > 1e-12
        w = a.T @ (b - a @ x)
    return x


def samples(results: dict) -> list[tuple]:
    """The syntheses of ``synth_all`` as fit samples: (module, parameters, -nodsp?, cells, label)."""
    return [(m, dict(items), nodsp, cells, _SHORT[m](dict(items))) for (m, items, nodsp), cells in results.items() if cells is not None]


def stage_samples(rows: list[dict]) -> list[tuple]:
    """``synth_stages`` rows (the spec's own ROM images, -nodsp) as fit samples, one per stage."""
    return [(r["module"], r["params"], True, r["cells"], f"{r['instances'][0]} (spec ROMs)") for r in rows]


def fit(data: list[tuple], fixed: dict | None = None) -> dict:
    """Refit the LUT coefficients (``K_MAC`` for the MAC units, ``K_UNIT`` per other module)
    to syntheses (``samples``, ``stage_samples``) by non-negative least squares on relative
    errors; coefficients in ``fixed`` (measured on isolated multipliers, adder trees and
    comparators) are kept. Also returns the leave-one-out error of every synthesis."""
    import numpy as np

    from mbdsl.backends.rtl import resources as rs
    from mbdsl.backends.rtl.synth import cell_resources

    fixed = fixed or {}
    groups: dict[str, list] = {}
    for m, p, nodsp, cells, label in data:
        feats, base = rs.lut_features(m, p, "lut" if nodsp else "yosys")
        if not feats:
            continue
        group = "mac" if m in ("mbdsl_mvau", "mbdsl_vvau") else m
        groups.setdefault(group, []).append((feats, cell_resources(cells).lut - base.lut, (m, label, nodsp)))
    out = {"K": {}, "loo": []}
    for group, rows in groups.items():
        names = list(rows[0][0])
        keep = [n for n in names if n not in fixed.get(group, {})]
        a = np.array([[f[n] for n in keep] for f, _, _ in rows], float)
        y = np.array([t - sum(v * f[n] for n, v in fixed.get(group, {}).items()) for f, t, _ in rows], float)
        total = np.array([t for _, t, _ in rows], float)
        wgt = 1 / np.maximum(total, 1)
        used = a.any(axis=0)
        k = np.zeros(len(keep))
        k[used] = nnls(a[:, used] * wgt[:, None], y * wgt)
        out["K"][group] = {**fixed.get(group, {}), **{n: round(float(v), 3) for n, v in zip(keep, k)}}
        for i in range(len(rows)):
            sel = np.arange(len(rows)) != i
            ki = np.zeros(len(keep))
            if sel.any():
                ki[used] = nnls(a[sel][:, used] * wgt[sel, None], y[sel] * wgt[sel])
            pred = a[i] @ ki + (total[i] - y[i])
            out["loo"].append((rows[i][2], (pred - total[i]) / max(total[i], 1)))
    return out


# Kept out of the fit: the multiplier measured on isolated blocks (yosys 0.70 synth_xilinx
# -family xcup -nodsp: 16 lanes of a 4x4-bit multiplier 24 LUTs each and 8 of an 8x8-bit one
# 110 each, i.e. 1.135*(IN*W)**1.1), and the DSP offset and packing coefficients of
# bench/dsp_packing.py (the syntheses here are -nodsp). The isolated adder tree (1.34 to 1.45
# LUTs per adder bit) and comparators (0.75 per compared bit) are no longer held: the
# pipelined units' trees and threshold stages fit lower.
MEASURED = {"mac": {"mul_var": 1.135, "dsp_offset": 1.0, "pack": 0.79}}


def synth_stages(spec: str, reverse: bool = False) -> list[dict]:
    """Every distinct stage (module, parameters, ROM images) of ``spec``'s generated top,
    synthesized alone with ``synth_xilinx -family xcup -flatten -nodsp`` (cached), with its
    instances and the model's resources (``reverse``: synthesize from the last stage)."""
    import hashlib
    import tempfile
    from pathlib import Path

    from mbdsl import backends, yosys
    from mbdsl.backends.rtl.resources import unit
    from mbdsl.backends.rtl.sources import hdl_sources
    from mbdsl.backends.rtl.synth import cell_resources, synth_key
    from mbdsl.backends.rtl.top import plan
    from mbdsl.commands.common import load_checked
    from mbdsl.params import make_params

    net = load_checked(spec)
    files = backends.generate("rtl", net, make_params(net))
    seen: dict = {}
    for s in plan(net)[1]:
        p = dict(s.params)
        roms = {k: v for k, v in p.items() if k in ("WEIGHT_FILE", "THRESH_FILE", "BIAS_FILE") and v}
        digest = hashlib.sha256("".join(files[v] for v in roms.values()).encode()).hexdigest()[:16]
        key = synth_key(s.module, p, True) + " roms " + digest
        seen.setdefault(key, {"module": s.module, "params": p, "roms": roms, "instances": []})["instances"].append(s.instance)
    rows = []
    for key, case in (reversed if reverse else iter)(list(seen.items())):
        def run(case=case) -> dict:
            with tempfile.TemporaryDirectory(prefix="mbdsl-stage-") as tmp:
                folder = Path(tmp)
                for name in case["roms"].values():
                    (folder / name).parent.mkdir(parents=True, exist_ok=True)
                    (folder / name).write_text(files[name])
                for src in hdl_sources(case["module"]):
                    (folder / src.name).write_text(src.read_text())
                sets = " ".join(f'-set {k} "{v}"' if isinstance(v, str) else f"-set {k} {int(v)}" for k, v in case["params"].items())
                script = "\n".join([*(f"read_verilog -defer -sv {src.name}" for src in hdl_sources(case["module"])),
                                    f"chparam {sets} {case['module']}", f"hierarchy -top {case['module']}",
                                    "synth_xilinx -family xcup -flatten -noiopad -nodsp", "tee -q -o stat.json stat -json"]) + "\n"
                return yosys.run(folder, script, f"{case['module']} {case['instances'][0]}", 3600)[0]

        try:
            cells = yosys.cached(CACHE, key, run)
        except Exception as exc:  # noqa: BLE001 - report and go on with the others
            print(f"  failed {case['instances'][0]}: {str(exc)[-300:]}", file=sys.stderr, flush=True)
            continue
        rows.append(case | {"cells": cells, "real": cell_resources(cells), "model": unit(case["module"], case["params"], "lut")})
        print(f"  synthesized {case['instances'][0]} ({len(case['instances'])} instances)", file=sys.stderr, flush=True)
    return rows[::-1] if reverse else rows


def stages_table(rows: list[dict]) -> str:
    from mbdsl.backends.rtl.resources import Resources

    lines = ["| stage (instances) | LUT yosys | LUT model | err | FF yosys | FF model | err | BRAM18 yosys / model |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    tot = {"real": Resources(), "model": Resources()}
    for r in rows:
        n = len(r["instances"])
        real, est = r["real"], r["model"]
        tot["real"] += Resources(real.lut * n, real.ff * n, real.bram18 * n, real.dsp * n)
        tot["model"] += Resources(est.lut * n, est.ff * n, est.bram18 * n, est.dsp * n)
        lines.append(f"| {r['instances'][0]}{f' (x{n})' if n > 1 else ''} | {real.lut:,} | {est.lut:,.0f} | {_pct(_err(est.lut, real.lut))} | "
                     f"{real.ff:,} | {est.ff:,.0f} | {_pct(_err(est.ff, real.ff))} | {real.bram18} / {est.bram18} |")
    real, est = tot["real"], tot["model"]
    lines.append(f"| **sum** | {real.lut:,} | {est.lut:,.0f} | {_pct(_err(est.lut, real.lut))} | "
                 f"{real.ff:,} | {est.ff:,.0f} | {_pct(_err(est.ff, real.ff))} | {real.bram18} / {est.bram18} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only-cached", action="store_true", help="compare only what the cache holds; run no synthesis")
    ap.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown")
    ap.add_argument("--reverse", action="store_true", help="synthesize from the end of the list (for a second worker)")
    ap.add_argument("--small-first", action="store_true", help="synthesize the units the model finds smallest first")
    ap.add_argument("--fit", action="store_true", help="refit the MAC LUT coefficients to the cached syntheses and print them")
    ap.add_argument("--stages", metavar="SPEC", help="synthesize every stage of SPEC's top alone, with its ROM images "
                    "(with --fit: fit to these syntheses too)")
    args = ap.parse_args(argv)
    if args.stages and not args.fit:
        print(stages_table(synth_stages(args.stages, args.reverse)))
        return 0
    results = synth_all(args.jobs, args.only_cached, args.reverse, args.small_first)
    if args.fit:
        got = fit(samples(results) + (stage_samples(synth_stages(args.stages)) if args.stages else []), MEASURED)
        for group, k in got["K"].items():
            print(f"{group}: {k}")
        for (m, cfg, nodsp), e in got["loo"]:
            print(f"  leave-one-out {m:10s} {cfg:40s} {'nodsp' if nodsp else 'dsp':5s} {e * 100:+6.1f}%")
        return 0
    rows, summary = compare(results)
    text = table_markdown(rows, summary)
    loo = fit(samples(results), MEASURED)["loo"]
    groups: dict[str, list] = {}
    for (m, _, _), e in loo:
        groups.setdefault("MAC units" if m in ("mbdsl_mvau", "mbdsl_vvau") else m.removeprefix("mbdsl_"), []).append(abs(e))
    text += "- LUT, leave-one-out (each synthesis predicted by coefficients refitted without it): " + "; ".join(
        f"{g} mean {sum(v) / len(v) * 100:.0f}%, max {max(v) * 100:.0f}%, {sum(x <= 0.25 for x in v)} of {len(v)} within ±25%"
        for g, v in groups.items() if len(v) >= 5) + "\n"
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
