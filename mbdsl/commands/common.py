"""What several commands share: loading a checked network, console output."""

from __future__ import annotations

import argparse
import math
import re
import shutil

from rich.console import Console

from .. import ir
from ..backends.rtl.cost import layer_cost
from ..backends.rtl.top import needs_params
from ..autofold import LayerCost
from ..errors import MbdslError
from ..frontend import load
from ..params import Params, make_params
from ..passes import check

__all__ = ["console", "load_checked", "rtl_params", "rtl_cost", "si", "count", "seed", "fraction", "positive", "clock", "MAX_IMAGES", "MAX_SEED", "check_image_batch"]

console = Console(highlight=False, width=max(150, shutil.get_terminal_size().columns))


def rtl_params(net: ir.Network) -> Params | None:
    """The parameters the RTL backend's plan and resource model need (a multiplier-style
    network's widths come from them): the spec's own, as ``gen`` and ``sim`` make them; None
    when the plan depends on the network alone."""
    return make_params(net) if needs_params(net) else None


def rtl_cost(net: ir.Network, dsp: str = "auto") -> LayerCost | None:
    """The RTL backend's resource model of a spec's network (``backends.rtl.cost.layer_cost``
    with :func:`rtl_params`)."""
    return layer_cost(net, dsp, rtl_params(net))


def load_checked(path: str) -> ir.Network:
    """Parse, elaborate and check a spec file (``fold(auto)`` goals optimized with the RTL
    backend's resource model, :func:`rtl_cost`)."""
    return check(load(path), rtl_cost)


def si(n: float) -> str:
    """1234567 -> '1.23 M'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:g}"


# --- command-line values ------------------------------------------------------------------
# Every number a command takes is range-checked by its parser: a value outside the range is
# a usage error (exit status 2) naming the option, before any work starts.

MAX_IMAGES = 10_000
"""Most images one command runs (--random, --images, --verify)."""
MAX_IMAGE_BATCH_BYTES = 256 << 20
"""Most bytes the images of one sim, csim or gap8-run may hold together (they are streamed
back to back, so all are made first)."""
MAX_SEED = 2**31 - 1
"""Largest seed (the simulation harness adds one to it and reads it as a 32-bit int)."""


def check_image_batch(net: ir.Network, count: int) -> None:
    """Refuse ``count`` images that would not fit :data:`MAX_IMAGE_BATCH_BYTES` together
    (after a network too large for one, :func:`mbdsl.params.check_size`)."""
    from ..images import image_bytes
    from ..params import check_size

    check_size(net)
    each = image_bytes(net.input)
    if count * each > MAX_IMAGE_BATCH_BYTES:
        raise MbdslError(f"{count:,} images of {each:,} bytes need {count * each:,} bytes, more than {MAX_IMAGE_BATCH_BYTES:,}",
                         hint=f"use at most {max(1, MAX_IMAGE_BATCH_BYTES // each):,} images")


def count(low: int, high: int):
    """An argparse type: a whole number in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip().replace("_", ""), 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:,}..{high:,}")
        return value

    return parse


def seed(text: str) -> int:
    """An argparse type: a seed in [0, MAX_SEED]."""
    return count(0, MAX_SEED)(text)


def _real(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


def fraction(high: float):
    """An argparse type: a number in [0, high]."""

    def parse(text: str) -> float:
        value = _real(text)
        if not 0 <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside 0..{high:g}")
        return value

    return parse


def positive(low: float, high: float):
    """An argparse type: a finite number in [low, high], low > 0."""

    def parse(text: str) -> float:
        value = _real(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text} is outside {low:g}..{high:g}")
        return value

    return parse


_CLOCK = re.compile(r"^\s*([0-9.]+(?:e[+-]?[0-9]+)?)\s*(hz|khz|mhz|ghz)?\s*$", re.IGNORECASE)
_UNITS = {"hz": 1, "khz": 1e3, "mhz": 1e6, "ghz": 1e9}


def clock(text: str) -> float:
    """An argparse type: a clock such as ``200MHz`` or ``'250 MHz'`` (default unit MHz), in Hz,
    within :data:`mbdsl.ir.CLOCK_RANGE`."""
    m = _CLOCK.match(text)
    try:
        value = float(m.group(1)) * _UNITS[(m.group(2) or "mhz").lower()] if m else math.nan
    except ValueError:
        value = math.nan
    if not m or math.isnan(value):
        raise argparse.ArgumentTypeError(f"cannot read the clock {text!r}; write e.g. 200MHz or '250 MHz'")
    low, high = ir.CLOCK_RANGE
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{text} is outside 1 kHz..10 GHz")
    return value
