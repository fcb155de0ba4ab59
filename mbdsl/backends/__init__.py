"""Code generators. Each target is a subpackage ``mbdsl.backends.<target>`` exposing

``generate(net: ir.Network, params: Params) -> dict[str, str | bytes]``

(relative path -> file content): pure, deterministic (regenerating gives byte-identical
files), and raising a located MbdslError for anything the target cannot express. The
``gen`` command writes the files atomically under ``generated/<network>/<target>/``.
"""

from __future__ import annotations

import importlib

__all__ = ["TARGETS", "generate"]

TARGETS: tuple[str, ...] = ("rtl", "gap8", "hls")
"""Targets in the order ``mbdsl gen`` lists them; a backend adds its name here."""


def generate(target: str, net, params) -> dict[str, str | bytes]:
    return importlib.import_module(f"{__name__}.{target}").generate(net, params)
