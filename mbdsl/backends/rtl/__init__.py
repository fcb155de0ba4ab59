"""RTL backend: static parametrised SystemVerilog modules (``hdl/``), ROM and stream
packing (:mod:`.pack`), the Verilator build helper (:mod:`.verilator`), the generated top
(:mod:`.top`), whole-network simulation (:mod:`.netsim`), and the resource model of what it
generates (:mod:`.resources`, :mod:`.memories`, :mod:`.cost`; measured by :mod:`.synth`)."""

from pathlib import Path

HDL_DIR = Path(__file__).resolve().parent / "hdl"

#: The stream units, by kind (module names are ``mbdsl_<kind>``).
UNITS = ("fifo", "swg", "mvau", "vvau", "dwc", "pool", "topk", "nv12")

from .top import generate  # noqa: E402  (the backend contract of mbdsl.backends)

__all__ = ["HDL_DIR", "UNITS", "generate"]
