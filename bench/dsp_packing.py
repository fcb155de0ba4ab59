"""The resource model's multiplier choices (``fold(mult = lut | dsp | packed)``) against yosys.

    .venv/bin/python bench/dsp_packing.py [--jobs N]
    .venv/bin/python bench/dsp_packing.py --spec S --layers conv0,b2.pw [--jobs N]

Every MAC configuration below is synthesized with ``synth_xilinx -family xcup`` (DSP
mapping allowed) once per multiplier choice (``MULT``; packed: PE lanes per multiply in
a matrix-vector unit, lane pairs in a vector unit), and the unit model (``mbdsl.backends.rtl.resources.unit``) is printed beside it as a
markdown table. With ``--spec``, the compute units of the named layers instead, at the
spec's folding and multiplier mapping (e.g. the one ``mbdsl fold --device`` chose).
Syntheses are cached in ``build/resources/synth_cache.json``.
"""
from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor

from mbdsl.backends.rtl.mult import MULT_CODES, packing
from mbdsl.backends.rtl.resources import unit
from mbdsl.backends.rtl.synth import cell_resources, synthesize
from mbdsl.backends.rtl.top import plan
from mbdsl.frontend import load
from mbdsl.passes import check

CACHE = "build/resources/synth_cache.json"


def _mac(module, pe, simd, in_bits=4, in_signed=0, w_bits=4, acc=14, **shape):
    return (module, {**shape, "PE": pe, "SIMD": simd, "IN_BITS": in_bits, "IN_SIGNED": in_signed, "W_BITS": w_bits, "W_SIGNED": 1,
                     "ACC_BITS": acc, "N_THRES": 15, "OUT_BITS": 4, "OUT_MIN": 0})


CONFIGS = [
    _mac("mbdsl_mvau", 8, 4, acc=12, MH=32, MW=64),
    _mac("mbdsl_mvau", 4, 8, in_signed=1, acc=14, MH=16, MW=32),
    _mac("mbdsl_mvau", 8, 3, in_bits=8, w_bits=8, acc=22, MH=8, MW=27),
    _mac("mbdsl_mvau", 16, 8, acc=15, MH=64, MW=64),
    _mac("mbdsl_vvau", 4, 3, acc=12, C=32, K2=9),
    # vector units packed: dot-product pairs, two-product pairs of the odd last lanes, a lone lane
    _mac("mbdsl_vvau", 4, 9, acc=12, C=16, K2=9),
    _mac("mbdsl_vvau", 8, 1, acc=12, C=32, K2=9),
    _mac("mbdsl_vvau", 3, 3, in_signed=1, acc=12, C=12, K2=9),
    _mac("mbdsl_vvau", 3, 9, in_signed=1, w_bits=8, acc=16, C=12, K2=9),
]


def variants(module: str, params: dict) -> list[tuple[str, dict]]:
    """The configuration once per multiplier choice the unit takes."""
    out = []
    for mult, code in MULT_CODES.items():
        p = dict(params, MULT=code)
        if mult == "packed" and module == "mbdsl_mvau":
            p["PACK"] = min(p["PE"], packing(p["IN_BITS"], bool(p["IN_SIGNED"]), p["W_BITS"]))
        out.append((mult, p))
    return out


def _label(module: str, p: dict) -> str:
    shape = f"MH{p['MH']} MW{p['MW']}" if module == "mbdsl_mvau" else f"C{p['C']} K2 {p['K2']}"
    sign = "s" if p["IN_SIGNED"] else "u"
    return f"{module.removeprefix('mbdsl_')} {shape} PE{p['PE']} SIMD{p['SIMD']} {sign}{p['IN_BITS']}x{p['W_BITS']}b"


def spec_units(spec: str, layers: list[str]) -> list[tuple[str, str, dict]]:
    """(module, mult, params) of the compute units of ``layers`` in the spec's RTL top."""
    net = check(load(spec))
    found = {s.layer: s for s in plan(net)[1] if s.module in ("mbdsl_mvau", "mbdsl_vvau")}
    missing = [name for name in layers if name not in found]
    if missing:
        raise SystemExit(f"error: no compute unit for layer(s) {', '.join(missing)} in {spec}")
    codes = {code: mult for mult, code in MULT_CODES.items()}
    return [(found[n].module, codes.get(dict(found[n].params).get("MULT", 0), "synthesis"), dict(found[n].params)) for n in layers]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--spec", help="synthesize the compute units of --layers of this spec instead of CONFIGS")
    ap.add_argument("--layers", default="", help="comma-separated layer names (with --spec)")
    ap.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per synthesis")
    args = ap.parse_args()
    if args.spec:
        runs = spec_units(args.spec, [n for n in args.layers.split(",") if n])
    else:
        runs = [(module, mult, p) for module, params in CONFIGS for mult, p in variants(module, params)]
    with ThreadPoolExecutor(args.jobs) as pool:
        cells = list(pool.map(lambda r: synthesize(r[0], r[2], False, CACHE, args.timeout), runs))
    print("| unit | mult | DSP yosys / model | LUT yosys | LUT model | err | FF yosys | FF model |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (module, mult, p), c in zip(runs, cells):
        got, est = cell_resources(c), unit(module, p, "yosys").rounded()
        print(f"| {_label(module, p)} | {mult} | {got.dsp} / {est.dsp} | {got.lut:,} | {est.lut:,} | {(est.lut - got.lut) / got.lut:+.0%} "
              f"| {got.ff:,} | {est.ff:,} |")


if __name__ == "__main__":
    main()
