"""``mbdsl report``: an HTML page with the figures of one spec.

Per-layer cycles (bottleneck marked), the estimated FPGA resources per layer and unit
(``mbdsl.backends.rtl.cost``), memory per layer, and for GAP8 specs the tiling plan of
``mbdsl.backends.gap8``. Plots are PNGs from matplotlib, embedded as base64 so the report
is one self-contained file; the page comes from ``templates/report.html.j2``.
"""

from __future__ import annotations

import base64
import datetime
import io

import attrs

from .. import ir
from ..dataflow import layer_cycles
from ..backends.rtl.impl import throughput_clock
from ..estimates import estimate, offchip_note
from ..templating import environment

__all__ = ["build_report", "Report"]

# colours: one per unit kind, readable on white and for common colour-vision deficiencies
_UNIT_COLOURS = {
    "compute": "#4477aa",
    "window": "#ee7733",
    "fifo": "#66ccee",
    "dwc": "#aa3377",
    "other": "#bbbbbb",
}
_UNIT_OF = {
    "mbdsl_mvau": "compute", "mbdsl_vvau": "compute", "mbdsl_pool": "compute", "mbdsl_topk": "compute",
    "mbdsl_swg": "window", "mbdsl_fifo": "fifo", "mbdsl_dwc": "dwc", "mbdsl_nv12": "other",
}
_UNIT_LABEL = {"compute": "compute unit", "window": "window generator", "fifo": "FIFO", "dwc": "width converter", "other": "NV12 front end"}

_ENV = environment("mbdsl.report", html=True)


@attrs.frozen
class Report:
    html: str
    images: dict[str, bytes]
    """The PNGs embedded in the page, by name (written beside it with ``--png``)."""


def _plt():
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the installation
        from ..errors import MbdslError

        raise MbdslError("mbdsl report needs matplotlib", hint="pip install 'mbdsl[report]' (matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False, "svg.hashsalt": "mbdsl"})
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _si(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.3g}"


def _cycles_plot(names: list[str], cycles: list[float], title: str, ylabel: str, mark: str = "bottleneck") -> bytes:
    plt = _plt()
    worst = max(range(len(cycles)), key=lambda i: cycles[i])
    fig, ax = plt.subplots(figsize=(max(7.0, 0.32 * len(names) + 2), 3.6))
    colours = ["#cc3311" if i == worst else "#4477aa" for i in range(len(names))]
    ax.bar(range(len(names)), cycles, color=colours, width=0.75)
    ax.axhline(cycles[worst], color="#cc3311", lw=0.8, ls="--")
    ax.annotate(f"{mark} {names[worst]}: {cycles[worst]:,.0f}", xy=(worst, cycles[worst]), xytext=(0, 6),
                textcoords="offset points", ha="center" if 2 < worst < len(names) - 3 else ("left" if worst <= 2 else "right"),
                color="#cc3311", fontsize=9, fontweight="bold")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, cycles[worst] * 1.15)
    ax.yaxis.set_major_formatter(lambda v, _: _si(v))
    ax.set_title(title, loc="left")
    ax.set_xlim(-0.6, len(names) - 0.4)
    return _png(fig)


def _resource_plot(order: list[str], by_layer: dict) -> bytes:
    plt = _plt()
    kinds = [k for k in _UNIT_COLOURS if any(by_layer[l].get(k) for l in order)]
    fig, axes = plt.subplots(3, 1, figsize=(max(7.0, 0.32 * len(order) + 2), 7.2), sharex=True,
                             gridspec_kw={"height_ratios": [2.2, 1.2, 1.0]})
    x = range(len(order))
    for ax, field, label in zip(axes, ("lut", "bram18", "dsp"), ("LUTs", "BRAM18", "DSP slices")):
        bottom = [0.0] * len(order)
        for k in kinds:
            vals = [getattr(by_layer[l].get(k), field, 0) if by_layer[l].get(k) is not None else 0 for l in order]
            if any(vals):
                ax.bar(x, vals, bottom=bottom, color=_UNIT_COLOURS[k], width=0.75, label=_UNIT_LABEL[k])
                bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_ylabel(label)
        ax.yaxis.set_major_formatter(lambda v, _: _si(v))
        total = sum(bottom)
        ax.text(1.0, 1.0, f"total {total:,.0f}", transform=ax.transAxes, ha="right", va="bottom", fontsize=9)
        if not total:
            ax.set_yticks([0])
    axes[0].legend(ncols=len(kinds), loc="lower left", bbox_to_anchor=(0, 1.02), frameon=False, fontsize=8)
    axes[-1].set_xticks(list(x), order, rotation=60, ha="right", fontsize=8)
    axes[-1].set_xlim(-0.6, len(order) - 0.4)
    fig.align_ylabels(axes)
    return _png(fig)


def _memory_plot(names: list[str], weights: list[float], thresholds: list[float], buffers: list[float] | None) -> bytes:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(7.0, 0.32 * len(names) + 2), 3.6))
    x = range(len(names))
    ax.bar(x, weights, color="#4477aa", width=0.75, label="weights")
    ax.bar(x, thresholds, bottom=weights, color="#ee7733", width=0.75, label="thresholds / bias")
    if buffers is not None:
        base = [w + t for w, t in zip(weights, thresholds)]
        ax.bar(x, buffers, bottom=base, color="#66ccee", width=0.75, label="line buffers and FIFOs")
    ax.set_ylabel("KiB")
    ax.set_xticks(list(x), names, rotation=60, ha="right", fontsize=8)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("memory per layer", loc="left")
    return _png(fig)


def _buffer_bits(module: str, params: dict) -> int:
    if module == "mbdsl_fifo":
        return params["WIDTH"] * params["DEPTH"]
    if module == "mbdsl_swg":
        cf = params["C"] // params["CPAR"]
        return (params["K"] + params["STRIDE"]) * params["IFM_W"] * cf * params["CPAR"] * params["BITS"] * params["KPAR"]
    return 0


def build_report(net: ir.Network, spec: str, dsp: str = "auto", params=None) -> Report:
    """The report of a checked network (``spec`` is the path shown in the title; ``params``:
    a multiplier-style network's parameters, which its RTL resource estimate needs)."""
    from ..backends.rtl import cost, resources

    figs = estimate(net)
    names = [f.layer.name for f in figs.layers]
    images: dict[str, bytes] = {}
    notes: list[str] = []

    rtl_ok = True
    try:
        stages = cost.stage_resources(net, dsp, params)
    except Exception as exc:  # noqa: BLE001 - the RTL backend refuses this spec: say why
        rtl_ok = False
        stages = []
        notes.append(f"No FPGA resource estimate: {exc}".split("\n")[0])

    gap8 = None
    if net.gap8 is not None or net.quant_style == ir.MULTIPLIER:
        from ..backends.gap8 import plan_network, plan_table

        plan = plan_network(net)
        rows = plan_table(plan)
        gap8 = {
            "columns": list(rows[0].keys()) if rows else [],
            "rows": [{k: (f"{v:,.0f}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)) for k, v in r.items()} for r in rows],
            "summary": f"L1 {plan.l1_budget:,} B for tiles, L2 {plan.l2_bytes:,} of {plan.l2_budget:,} B, L3 {plan.l3_bytes:,} B, "
                       f"{plan.target.cores} cores; modeled {plan.total_cycles:,.0f} cycles = "
                       f"{plan.total_cycles / plan.target.clock_hz * 1e3:.2f} ms at {plan.target.clock_hz / 1e6:g} MHz",
        }
        images["gap8_cycles.png"] = _cycles_plot([r["layer"] for r in rows], [float(r["cycles"]) for r in rows],
                                                 "GAP8 modeled cycles per layer (layers run one after another)", "cycles",
                                                 mark="largest")

    images["cycles.png"] = _cycles_plot(["input port"] + names, [float(figs.input_cycles)] + [float(layer_cycles(f.layer)) for f in figs.layers],
                                        f"dataflow cycles per frame per stage (II = {figs.ii:,} cycles)", "cycles / frame")

    by_layer: dict[str, dict] = {}
    order: list[str] = []
    buffers: dict[str, float] = {}
    for s in stages:
        if s.layer not in by_layer:
            by_layer[s.layer] = {}
            order.append(s.layer)
        kind = _UNIT_OF.get(s.module, "other")
        by_layer[s.layer][kind] = by_layer[s.layer].get(kind, resources.Resources()) + s.resources
    if rtl_ok:
        from ..backends.rtl.top import plan as rtl_plan

        _, plan_stages = rtl_plan(net, params)
        for st, s in zip(plan_stages, stages):
            buffers[s.layer] = buffers.get(s.layer, 0) + _buffer_bits(st.module, dict(st.params)) / 8192
        images["resources.png"] = _resource_plot(order, by_layer)

    kib = 1 / 8192
    images["memory.png"] = _memory_plot(
        names, [f.weight_bits * kib for f in figs.layers], [f.threshold_bits * kib for f in figs.layers],
        [buffers.get(n, 0.0) for n in names] if rtl_ok else None,
    )

    rows = []
    totals = resources.Resources()
    for f in figs.layers:
        l = f.layer
        r = sum(by_layer.get(l.name, {}).values(), resources.Resources()) if rtl_ok else None
        if r is not None:
            totals = totals + r
        rows.append({
            "name": l.name, "kind": l.kind,
            "fold": f"{l.fold.pe} x {l.fold.simd}" if hasattr(l, "fold") else "",
            "macs": f"{f.macs:,}", "cycles": f"{f.cycles:,}", "balance": f"{f.cycles / figs.ii:.2f}",
            "bottleneck": figs.bottleneck is not None and f.layer is figs.bottleneck.layer,
            "weights": f"{f.weight_bits / 8:,.0f}", "thresholds": f"{f.threshold_bits / 8:,.0f}",
            "lut": f"{r.lut:,.0f}" if r else "", "ff": f"{r.ff:,.0f}" if r else "",
            "bram": f"{r.bram18:,}" if r else "", "dsp": f"{r.dsp:,}" if r else "",
        })
    for extra in ("input", "output"):
        if extra in by_layer:
            r = sum(by_layer[extra].values(), resources.Resources())
            totals = totals + r
            rows.append({"name": extra, "kind": "nv12" if extra == "input" else "dwc", "fold": "", "macs": "", "cycles": "",
                         "balance": "", "bottleneck": False, "weights": "", "thresholds": "",
                         "lut": f"{r.lut:,.0f}", "ff": f"{r.ff:,.0f}", "bram": f"{r.bram18:,}", "dsp": f"{r.dsp:,}"})

    hz, hz_what = throughput_clock(net)
    summary = [
        ("II", f"{figs.ii:,} cycles per frame"),
        ("throughput", f"{hz / figs.ii:,.1f} FPS at {hz / 1e6:g} MHz ({hz_what})"),
        ("bottleneck", f"{figs.bottleneck_name} ({figs.ii:,} cycles)"),
        *([("off-chip weights", offchip)] if (offchip := offchip_note(net, hz)) is not None else []),
        ("MACs per frame", f"{figs.macs:,}"),
        ("MAC lanes", f"{figs.mac_lanes:,}"),
        ("weights", f"{figs.weight_bytes:,} B"),
    ]
    if rtl_ok:
        uram = f", {totals.uram:,} URAM288" if totals.uram else ""
        summary.append(("estimated resources", f"{totals.lut:,.0f} LUT, {totals.ff:,.0f} FF, {totals.bram18:,} BRAM18, {totals.dsp:,} DSP{uram} "
                                                f"(UltraScale+, multipliers: {dsp})"))
    b64 = {k: base64.b64encode(v).decode() for k, v in images.items()}
    html = _ENV.get_template("report.html.j2").render(
        net=net, spec=spec, summary=summary, rows=rows, images=b64, gap8=gap8, notes=notes, rtl_ok=rtl_ok, dsp=dsp,
        generated=datetime.date.today().isoformat(),
    )
    return Report(html, images)
