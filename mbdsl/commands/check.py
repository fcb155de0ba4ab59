"""``mbdsl check``: validate a spec and print the per-layer table and totals."""

from __future__ import annotations

import time

from rich.table import Table

from .. import ir
from ..backends.gap8 import plan_network
from ..backends.rtl.impl import throughput_clock
from ..estimates import estimate, offchip_note
from .gap8_plan import render as render_gap8_plan
from ..params import make_params, summary
from .common import console, load_checked, si


def register(sub) -> None:
    p = sub.add_parser("check", help="validate a spec and print the per-layer table")
    p.add_argument("spec")
    p.add_argument("--activations", action="store_true", help="also make the parameters and print how each layer's output codes spread")
    p.set_defaults(func=run)


def run(args) -> int:
    t0 = time.perf_counter()
    net = load_checked(args.spec)
    elapsed = time.perf_counter() - t0
    figures = estimate(net)
    table = Table(title=f"{net.name}  ({net.quant_style} quantization, {net.input.format} input {net.input.shape})")
    for col in ("layer", "kind", "in", "out", "MACs", "weights", "bytes", "acc", "PE", "SIMD", "cycles/frame", ""):
        table.add_column(col, justify="right" if col in ("MACs", "bytes", "PE", "SIMD", "cycles/frame") else "left")
    bottleneck = figures.bottleneck
    for f in figures.layers:
        layer = f.layer
        fold = getattr(layer, "fold", None)
        table.add_row(
            layer.name,
            layer.kind,
            str(layer.in_shape),
            str(layer.out_shape),
            f"{f.macs:,}" if f.macs else "",
            str(layer.weight_type) if hasattr(layer, "weight_type") else "",
            f"{f.weight_bits // 8:,}" if f.weight_bits else "",
            str(layer.acc_type) if getattr(layer, "acc_type", None) else "",
            str(fold.pe) if fold else "",
            str(fold.simd) if fold else "",
            f"{f.cycles:,}",
            "<- bottleneck" if f is bottleneck else "",
        )
    console.print(table)
    console.print(f"MACs per frame       {figures.macs:,} ({si(figures.macs)})")
    console.print(f"weight memory        {figures.weight_bytes:,} B" + (f" + thresholds {figures.threshold_bytes:,} B" if figures.threshold_bytes else ""))
    console.print(f"MAC lanes (PE*SIMD)  {figures.mac_lanes:,}")
    per_beat = f", {net.input.pixels} pixels per beat" if net.input.pixels_per_beat > 1 else ""
    console.print(f"input port           {figures.input_cycles:,} cycles per frame ({net.input.format}{per_beat})")
    console.print(f"initiation interval  {figures.ii:,} cycles (bottleneck {figures.bottleneck_name})")
    hz, what = throughput_clock(net)
    console.print(f"throughput           {hz / figures.ii:,.1f} FPS at {hz / 1e6:g} MHz ({what})")
    if (offchip := offchip_note(net, hz)) is not None:
        console.print(f"                     {offchip}")
    console.print(f"checked in           {elapsed * 1000:.1f} ms")
    if net.gap8 is not None and net.quant_style == ir.MULTIPLIER:
        plan = plan_network(net)
        console.print(render_gap8_plan(plan))
        console.print(f"GAP8 modeled total  {plan.total_cycles:,.0f} cycles = {plan.total_cycles / plan.target.clock_hz * 1e3:.2f} ms at {plan.target.clock_hz / 1e6:g} MHz")
    if args.activations:
        params = make_params(net)
        console.print("\nparameters and output codes on sample images:")
        console.print(summary(net, params), markup=False)
    return 0

