"""What several commands share: loading a checked network, console output."""

from __future__ import annotations

import shutil

from rich.console import Console

from .. import ir
from ..frontend import load
from ..passes import check

__all__ = ["console", "load_checked", "si"]

console = Console(highlight=False, width=max(150, shutil.get_terminal_size().columns))


def load_checked(path: str) -> ir.Network:
    """Parse, elaborate and check a spec file."""
    return check(load(path))


def si(n: float) -> str:
    """1234567 -> '1.23 M'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:g}"
