"""C simulation of the generated HLS C++ on the host: compile with g++, run, compare.

The sources are compiled against the vendor's ``ap_int.h`` and ``hls_stream.h``
(:func:`find_ap_types`: a folder given by the user, or the open-source copies shipped in
the ``hls4ml`` package, installed by ``pip install mbdsl[hls]``).

The generated testbench (``tb/tb.cpp``) reads frames from a file and writes the outputs
(and, on request, every layer's output) as int64; :func:`compare` checks them against
:func:`mbdsl.reference.run_batch`, bit for bit, and names the first layer that diverged.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import attrs
import numpy as np

from ... import ir, reference
from ...divergence import Divergence, first_divergence
from ...errors import MbdslError
from ...output import write_tree

__all__ = ["find_ap_types", "Build", "Run", "CompileError", "build", "run", "compare", "frame_bytes"]


class CompileError(MbdslError):
    """g++ rejected the generated C++ (a backend bug: please report it)."""


@attrs.frozen
class Build:
    exe: str
    src: str
    manifest: dict
    seconds: float
    compiled: int
    cached: int


@attrs.frozen
class Run:
    outputs: np.ndarray
    """(N, outputs) int64: the last layer's output of every frame."""
    traces: list[list[np.ndarray]] | None
    """Per frame, every layer's output (flat, stream order), if traced."""
    frame_ms: list[float]
    """Time of every frame inside the testbench (feeding, the top, reading)."""


AP_TYPES_HEADERS = ("ap_int.h", "hls_stream.h")
HLS4ML_AP_TYPES = ("templates", "vivado", "ap_types")
"""Where the hls4ml package keeps its copy of Xilinx's open-source HLS type headers."""


def find_ap_types(folder: str | None = None) -> str:
    """The folder of the vendor's ``ap_int.h`` and ``hls_stream.h``: ``folder`` if given
    (``mbdsl csim --ap-types``), else the copy in the installed hls4ml package (found
    without importing it)."""
    hint = "pip install 'mbdsl[hls]' (it installs hls4ml, which ships Xilinx's headers), or pass --ap-types DIR"
    if folder is None:
        spec = importlib.util.find_spec("hls4ml")
        if spec is None or not spec.submodule_search_locations:
            raise MbdslError("the Vitis HLS type headers (ap_int.h, hls_stream.h) were not found", hint=hint)
        folder = os.path.join(list(spec.submodule_search_locations)[0], *HLS4ML_AP_TYPES)
        where = "the installed hls4ml package"
    else:
        where = "--ap-types"
    missing = [h for h in AP_TYPES_HEADERS if not os.path.isfile(os.path.join(folder, h))]
    if missing:
        raise MbdslError(f"{where}: no {' or '.join(missing)} in {folder}", hint=hint)
    return os.path.abspath(folder)


def _compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++")
    if not cxx:
        raise MbdslError("no C++ compiler found", hint="install g++ (or set CXX)")
    return cxx


def build(
    files: dict[str, str | bytes],
    workdir: str,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    ap_types: str | None = None,
) -> Build:
    """Write ``files`` under ``workdir/src``, compile them with g++ against the vendor
    headers in ``ap_types`` (default: :func:`find_ap_types`) and link the testbench
    ``workdir/tb``.

    The sources are compiled as ``jobs`` unity files (default: one per core) in parallel;
    objects are cached by content under ``workdir/obj``, so an unchanged network relinks only.
    """
    src = os.path.join(workdir, "src")
    objdir = os.path.join(workdir, "obj")
    os.makedirs(objdir, exist_ok=True)
    write_tree(src, files)
    manifest = json.loads(files["mbdsl_hls.json"])
    cxx = _compiler()
    ap_types = find_ap_types(ap_types)
    # -isystem: the vendor headers' own warnings are theirs, not the generated code's
    flags = list(manifest["cxxflags"]) + ["-isystem", ap_types]
    headers = b"".join(_bytes(files[k]) for k in sorted(files) if k.endswith(".h"))
    for h in sorted(glob.glob(os.path.join(ap_types, "**", "*.h"), recursive=True)):
        with open(h, "rb") as f:
            headers += f.read()
    units = _unity_chunks(files, manifest["sources"] + [manifest["testbench"]], jobs or os.cpu_count() or 1)
    todo, objects = [], []
    for k, chunk in enumerate(units):
        text = "".join(f'#include "{s}"\n' for s in chunk)
        key = hashlib.sha256(repr((cxx, flags, text)).encode() + headers + b"".join(_bytes(files[s]) for s in chunk)).hexdigest()[:24]
        cpp = os.path.join(objdir, f"unity{k}-{key}.cpp")
        obj = cpp[:-4] + ".o"
        objects.append(obj)
        if not os.path.exists(obj):
            with open(cpp, "w") as f:
                f.write(text)
            todo.append((cpp, obj))
    t0 = time.perf_counter()
    done = 0

    def compile_one(item):
        s, obj = item
        tmp = obj + f".{os.getpid()}.tmp"
        p = subprocess.run([cxx, *flags, "-I", src, "-c", s, "-o", tmp], capture_output=True, text=True)
        if p.returncode != 0:
            raise CompileError(f"g++ failed on the generated {s}:\n{p.stderr[-4000:]}", hint="this is a bug of the HLS backend")
        os.replace(tmp, obj)
        return s

    if progress:
        progress("compile", 0, len(todo))
    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        for _ in pool.map(compile_one, todo):
            done += 1
            if progress:
                progress("compile", done, len(todo))
    exe = os.path.join(workdir, "tb")
    p = subprocess.run([cxx, *flags, *objects, "-o", exe], capture_output=True, text=True)
    if p.returncode != 0:
        raise CompileError(f"linking the testbench failed:\n{p.stderr[-4000:]}", hint="this is a bug of the HLS backend")
    return Build(exe, src, manifest, time.perf_counter() - t0, len(todo), len(units) - len(todo))


def _unity_chunks(files, sources: list[str], jobs: int) -> list[list[str]]:
    """Sources grouped into ``jobs`` translation units of similar size (largest first into
    the smallest group): one g++ per core, each parsing the headers once."""
    groups: list[tuple[int, list[str]]] = [(0, []) for _ in range(max(1, min(jobs, len(sources))))]
    for s in sorted(sources, key=lambda s: (-len(files[s]), s)):
        size, members = min(groups, key=lambda g: g[0])
        groups.remove((size, members))
        groups.append((size + len(files[s]), members + [s]))
    return [sorted(m) for _, m in sorted(groups, key=lambda g: g[1])]


def _bytes(content: str | bytes) -> bytes:
    return content.encode() if isinstance(content, str) else content


def frame_bytes(net: ir.Network, image) -> bytes:
    """An input image as the testbench reads it: u8 HWC bytes, or the flat NV12 frame."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = a.astype(np.uint8)
    return a.tobytes()


def run(
    b: Build,
    net: ir.Network,
    images,
    trace: bool = False,
    on_frame: Callable[[int, float], None] | None = None,
) -> Run:
    """Run the testbench on ``images``; with ``trace``, also collect every layer's output."""
    layers = b.manifest["layers"]
    with tempfile.TemporaryDirectory(prefix="mbdsl-csim-") as tmp:
        inp = os.path.join(tmp, "images.bin")
        out = os.path.join(tmp, "outputs.bin")
        trc = os.path.join(tmp, "trace.bin")
        with open(inp, "wb") as f:
            for image in images:
                f.write(frame_bytes(net, image))
        cmd = [b.exe, inp, out] + ([trc] if trace else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        frame_ms, other = [], []
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "frame":
                frame_ms.append(float(parts[2]))
                if on_frame:
                    on_frame(int(parts[1]), float(parts[2]))
            else:
                other.append(line)  # e.g. the vendor hls::stream's "read while empty" warning
        err = proc.stderr.read()
        if proc.wait() != 0:
            raise MbdslError(f"the HLS testbench failed (exit {proc.returncode}):\n{err[-4000:]}", hint="this is a bug of the HLS backend")
        if other:
            raise MbdslError(f"the HLS testbench printed:\n{''.join(other[:20])[-4000:]}", hint="this is a bug of the HLS backend")
        n = len(frame_ms)
        outputs = np.fromfile(out, dtype="<i8").reshape(n, -1)
        traces = None
        if trace:
            flat = np.fromfile(trc, dtype="<i8")
            sizes = [l["outputs"] for l in layers]
            per = sum(sizes)
            if flat.size != per * n:
                raise MbdslError(f"trace holds {flat.size} values, expected {per * n}", hint="this is a bug of the HLS backend")
            bounds = np.cumsum([0] + sizes)
            traces = [[flat[f * per + bounds[i] : f * per + bounds[i + 1]] for i in range(len(sizes))] for f in range(n)]
    return Run(outputs, traces, frame_ms)


def compare(net: ir.Network, params, images, result: Run) -> list[Divergence]:
    """The first divergence from the reference of every differing image (empty if bit-exact).

    With traces, each names the first layer whose output differs; otherwise the output.
    """
    ref = reference.run_batch(net, params, images)
    found = []
    for i in range(len(images)):
        if result.traces is not None:
            compared = [(layer, result.traces[i][k], ref[k][i]) for k, layer in enumerate(net.layers)]
        else:
            compared = [("the output", result.outputs[i], ref[-1][i])]
        d = first_divergence("HLS", i, compared)
        if d is not None:
            found.append(d)
    return found
