"""The static SystemVerilog units of the RTL backend: where they live and which files each needs.

Both the generated top (:mod:`.top`) and every tool that reads the sources (Verilator,
yosys, ``mbdsl impl``) ask this module, so importing it loads no tool.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["HDL_DIR", "hdl_sources"]

HDL_DIR = Path(__file__).resolve().parent / "hdl"

# Modules that other modules instantiate; sources are listed dependencies first.
_DEPS: dict[str, tuple[str, ...]] = {
    "mbdsl_mvau": ("mbdsl_addtree", "mbdsl_fifo", "mbdsl_credit_fifo", "mbdsl_requant", "mbdsl_mul_packed", "mbdsl_mul_pair", "mbdsl_mac_core",
                   "mbdsl_mvau_stream"),
    "mbdsl_mvau_stream": ("mbdsl_addtree", "mbdsl_fifo", "mbdsl_credit_fifo", "mbdsl_requant", "mbdsl_mul_packed", "mbdsl_mul_pair",
                          "mbdsl_mac_core"),
    "mbdsl_vvau": ("mbdsl_addtree", "mbdsl_fifo", "mbdsl_credit_fifo", "mbdsl_requant", "mbdsl_mul_packed", "mbdsl_mul_pair", "mbdsl_mac_core"),
    "mbdsl_mac_core": ("mbdsl_addtree", "mbdsl_fifo", "mbdsl_credit_fifo", "mbdsl_requant", "mbdsl_mul_packed", "mbdsl_mul_pair"),
    "mbdsl_requant": ("mbdsl_addtree",),
    "mbdsl_credit_fifo": ("mbdsl_fifo",),
    "mbdsl_pool": ("mbdsl_addtree", "mbdsl_fifo", "mbdsl_credit_fifo", "mbdsl_requant"),
    "mbdsl_swg": ("mbdsl_fifo", "mbdsl_credit_fifo"),
    "mbdsl_nv12": ("mbdsl_fifo", "mbdsl_credit_fifo"),
}


def hdl_sources(top: str) -> list[Path]:
    """The ``.sv`` files needed to elaborate module ``top`` (dependencies first)."""
    names = list(_DEPS.get(top, ())) + [top]
    return [HDL_DIR / f"{n}.sv" for n in dict.fromkeys(names)]
