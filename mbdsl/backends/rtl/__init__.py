"""RTL backend: static parametrised SystemVerilog modules (``hdl/``, listed by :mod:`.sources`),
ROM and stream packing (:mod:`.pack`), the Verilator build helper (:mod:`.verilator`), the
generated top (:mod:`.top`), whole-network simulation (:mod:`.netsim`), and the resource model
of what it generates (:mod:`.resources`, :mod:`.memories`, :mod:`.cost`; measured by
:mod:`.synth`)."""

from .top import generate  # the backend contract of mbdsl.backends

__all__ = ["generate"]
