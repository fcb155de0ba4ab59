"""Logic depth of a ``synth_xilinx`` netlist (yosys JSON): LUT levels between registers.

The netlist graph is cut at every sequential cell (flip-flops, block RAMs, DSP slices with
a register in use, shift registers and the write side of LUT RAMs), so a path starts at a register output, a
memory or DSP output or a top-level input, and ends at the next such input or an output.
A LUT RAM's or shift register's read is combinational from its address pins only.
"""

from __future__ import annotations

import re

__all__ = ["netlist_depth", "is_sequential", "net_names", "instance_of"]

_SEQ = re.compile(r"^(FD[A-Z]*(_1)?|LD[A-Z]+|RAMB\d+E\d|URAM288.*|FIFO\d+E\d|BUFG.*)$")
_DSP_REGS = ("AREG", "BREG", "ACASCREG", "BCASCREG", "ADREG", "DREG", "MREG", "PREG")
_LUTRAM = re.compile(r"^(RAM\d+X\d+[SD]|RAM\d+M\d*|SRLC?\d+E)$")
_ADDRESS_PIN = re.compile(r"^(A\d*|ADDR[A-H]?|DPRA\d*|A\[\d+\])$")


def is_sequential(cell: dict) -> bool:
    """Whether a cell cuts paths: registers, block RAMs, and DSP slices with any internal
    register in use (yosys maps a multiplier to a DSP without registers when it finds none
    to absorb: then the path runs through it)."""
    if cell["type"].startswith("DSP48"):
        return any(int(str(cell.get("parameters", {}).get(p, "0")), 2) for p in _DSP_REGS)
    return bool(_SEQ.match(cell["type"]))


def _comb_inputs(cell: dict) -> list:
    """The input bits a cell's outputs depend on combinationally."""
    ports = [p for p, d in cell.get("port_directions", {}).items() if d == "input" and p not in ("CLK", "C", "CLKARDCLK", "CLKBWRCLK")]
    if _LUTRAM.match(cell["type"]):
        ports = [p for p in ports if _ADDRESS_PIN.match(p)]
    return [b for p in ports for b in cell["connections"].get(p, []) if isinstance(b, int)]


def net_names(netlist: dict) -> dict[int, list[tuple[str, str]]]:
    """bit -> [(name, hdlname)] of the named nets of a flattened yosys JSON module."""
    names: dict[int, list[tuple[str, str]]] = {}
    for name, net in netlist["netnames"].items():
        hdl = net.get("attributes", {}).get("hdlname", "")
        for bit in net["bits"]:
            if isinstance(bit, int):
                names.setdefault(bit, []).append((name, hdl))
    return names


def _prefix(name: str) -> str:
    """The instance path in a flattened name (``b3_pw.u_core.x_TRELLIS_FF_Q`` ->
    ``b3_pw.u_core``); yosys' generated suffixes start at the first ``$``."""
    return name.split("$")[0].rpartition(".")[0]


def instance_of(cell: str, info: dict | None, names: dict) -> str:
    """The instance path a flattened cell came from: the prefix of its own name, else that
    of the nets its outputs drive (cells renamed by abc or after a top-level wire)."""
    if _prefix(cell) or info is None:
        return _prefix(cell)
    for port, d in info.get("port_directions", {}).items():
        if d != "output":
            continue
        for bit in info["connections"].get(port, []):
            for _, hdl in names.get(bit, []) if isinstance(bit, int) else []:
                if " " in hdl:
                    return ".".join(hdl.split(" ")[:-1])
    return ""


def netlist_depth(netlist: dict) -> dict:
    """The deepest register-to-register path: ``luts`` (LUT cells on it, INV included), ``cells`` (all
    combinational cells: LUTs, carry chains, wide multiplexers), the ``path`` of cell names
    (source side first), and ``by_instance``: the deepest path in LUTs ending in each
    top-level instance (the first component of the flattened endpoint name)."""
    cells = netlist["cells"]
    driver: dict[int, str] = {}
    for name, cell in cells.items():
        for p, d in cell.get("port_directions", {}).items():
            if d == "output":
                for b in cell["connections"].get(p, []):
                    if isinstance(b, int):
                        driver[b] = name
    comb = {n for n, c in cells.items() if not is_sequential(c)}
    # (LUTs, cells, predecessor) of the deepest path ending at each combinational cell's output
    best: dict[str, tuple[int, int, str | None]] = {}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for root in comb:
        if root in state:
            continue
        stack = [(root, False)]
        while stack:
            name, expanded = stack.pop()
            if expanded:
                luts, count, pred = 0, 0, None
                for b in _comb_inputs(cells[name]):
                    d = driver.get(b)
                    if d in comb and (best[d][0], best[d][1]) > (luts, count):
                        luts, count, pred = best[d][0], best[d][1], d
                is_lut = cells[name]["type"].startswith("LUT") or cells[name]["type"] == "INV"  # INV is a LUT1
                best[name] = (luts + is_lut, count + 1, pred)
                state[name] = 2
                continue
            if state.get(name) == 2:
                continue
            if state.get(name) == 1:
                raise RuntimeError(f"combinational loop through {name}")
            state[name] = 1
            stack.append((name, True))
            for b in _comb_inputs(cells[name]):
                d = driver.get(b)
                if d in comb and state.get(d) != 2:
                    if state.get(d) == 1:
                        raise RuntimeError(f"combinational loop through {d}")
                    stack.append((d, False))
    # every combinational cell ends a path; the deepest of all is the design's
    top = max(((luts, count, name) for name, (luts, count, _) in best.items()), default=(0, 0, None))
    by_instance: dict[str, int] = {}  # by the sequential cell a path ends in
    names = net_names(netlist)
    for name, cell in cells.items():
        if name in comb:
            continue
        inst = instance_of(name, cell, names).split(".")[0]
        for p, d in cell.get("port_directions", {}).items():
            if d != "input":
                continue
            for b in cell["connections"].get(p, []):
                src = driver.get(b) if isinstance(b, int) else None
                if src in comb:
                    by_instance[inst] = max(by_instance.get(inst, 0), best[src][0])
    path = []
    node = top[2]
    while node is not None:
        path.append(f"{node} ({cells[node]['type']})")
        node = best[node][2]
    return {"luts": top[0], "cells": top[1], "path": path[::-1], "by_instance": dict(sorted(by_instance.items()))}
