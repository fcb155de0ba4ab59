"""Whole-network simulation of a generated top: build with Verilator, stream frames
through the C++ harness, compare every frame (and, traced, every layer) with the reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import numpy as np

from . import pack
from .top import ROM_FOLDERS
from .verilator import FAST_ARGS, setup_env, verilator_bin_dir
from ... import ir, reference
from ...dataflow import layer_cycles
from ...divergence import Divergence, first_divergence
from ...estimates import estimate
from ...params import Params
from ...templating import environment

__all__ = ["SimResult", "build", "simulate", "input_beats", "compare_traces"]

HARNESS = Path(__file__).resolve().parent / "harness" / "harness.cpp"
_ENV = environment("mbdsl.backends.rtl")


@attrs.frozen
class SimResult:
    outputs: list[np.ndarray]
    expected: list[np.ndarray]
    frame_in: list[int]
    """Cycle at which each frame's first input beat was accepted."""
    frame_done: list[int]
    """Cycle of each frame's last output beat."""
    cycles: int
    mismatch: Divergence | None
    """The first frame, and in it the first traced layer (or the output), that differs."""
    seconds: float
    load_cycles: int | None = None
    """Cycles until the last weight-load beat was accepted (a top with run-time weights):
    once after reset, before the first frame, so neither the latency nor the II counts them."""

    @property
    def exact(self) -> bool:
        return self.mismatch is None and all(np.array_equal(a, b) for a, b in zip(self.outputs, self.expected))

    @property
    def latency(self) -> int:
        """Cycles from the first frame's first input beat to its last output beat."""
        return self.frame_done[0] - self.frame_in[0]

    @property
    def ii(self) -> float | None:
        """Measured initiation interval: mean cycles between consecutive frames' completions."""
        if len(self.frame_done) < 2:
            return None
        return (self.frame_done[-1] - self.frame_done[0]) / (len(self.frame_done) - 1)


def input_beats(net: ir.Network, image: np.ndarray) -> list[int]:
    """The top's input stream for one image: beats of P pixels of C bytes, or row-paired NV12."""
    if net.input.format == "nv12":
        h, w = net.input.shape.h, net.input.shape.w
        y = image[: h * w].reshape(h, w)
        uv = image[h * w :].reshape(h // 2, w)
        rows = []
        for i in range(h // 2):
            rows += [uv[i], y[2 * i], y[2 * i + 1]]
        return [int(v) for v in np.concatenate(rows)]
    return pack.tensor_to_beats(image, net.input.shape.c * net.input.pixels_per_beat, 8)


def build(rtl_dir: str | os.PathLike, build_dir: str | os.PathLike, log: Callable[[str], None] = lambda s: None) -> Path:
    """Compile the generated design in ``rtl_dir`` with the harness; returns the binary."""
    rtl_dir, build_dir = Path(rtl_dir).resolve(), Path(build_dir).resolve()
    manifest = json.loads((rtl_dir / "manifest.json").read_text())
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = sorted((rtl_dir / "hdl").glob("*.sv")) + [rtl_dir / f"{manifest['top']}.sv"]
    # the top's weight streams, which the harness feeds (their files are read at run time)
    streams = _ENV.get_template("weight_streams.h.j2").render(streams=manifest.get("weight_streams", []))
    (build_dir / "weight_streams.h").write_text(streams)
    cmd = [
        str(verilator_bin_dir() / "verilator"), "--cc", "--exe", "--build", "-j", "2",
        "--top-module", manifest["top"], "--prefix", "Vtop", "-Mdir", str(build_dir / "obj"),
        "+define+MBDSL_TRACE", "-Wno-fatal", "-CFLAGS", "-O2" + (" -DMBDSL_WLOAD" if "weight_load" in manifest else ""),
        "-CFLAGS", f"-I{build_dir}", "-o", str(build_dir / "harness"),
        *FAST_ARGS, *map(str, sources), str(HARNESS),
    ]  # fmt: skip
    env = setup_env(ccache_dir=build_dir.parent / "ccache", env=dict(os.environ))
    log(f"verilating {manifest['top']} ({len(sources)} sources)")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=build_dir)
    (build_dir / "build.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(f"Verilator build failed (log: {build_dir / 'build.log'}):\n{proc.stderr[-3000:]}")
    return build_dir / "harness"


def _link_memories(rtl_dir: Path, run_dir: Path) -> None:
    """Point the run directory's ROM folders at ``rtl_dir`` ($readmemh reads them at run time)."""
    for name in ROM_FOLDERS:
        link = run_dir / name
        if link.is_symlink():
            link.unlink()
        if (rtl_dir / name).exists():
            link.symlink_to(rtl_dir / name)


def simulate(
    net: ir.Network,
    params: Params,
    images: Sequence[np.ndarray],
    rtl_dir: str | os.PathLike,
    build_dir: str | os.PathLike,
    stall: float = 0.0,
    seed: int = 1,
    trace: bool = True,
    max_cycles: int | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> SimResult:
    """Stream ``images`` back to back through the built design; compare with the reference."""
    rtl_dir, build_dir = Path(rtl_dir).resolve(), Path(build_dir).resolve()
    manifest = json.loads((rtl_dir / "manifest.json").read_text())
    binary = build_dir / "harness"
    traces = [reference.run(net, params, image) for image in images]
    expected = [t[-1].reshape(-1) for t in traces]
    beats = [b for im in images for b in input_beats(net, im)]
    per_frame = len(beats) // len(images)
    out_per_frame = expected[0].size
    _link_memories(rtl_dir, build_dir)
    (build_dir / "inputs.memh").write_text("".join(f"{b:x}\n" for b in beats))
    (build_dir / "trace").mkdir(exist_ok=True)
    for old in (build_dir / "trace").glob("*.memh"):
        old.unlink()
    # a frame's latency is at most every layer's cycles, each at most the II
    load_file = rtl_dir / manifest["weight_load"] if "weight_load" in manifest else None
    # a loader passes on another's beats at one in two cycles
    load_beats = 2 * len(load_file.read_text().split()) if load_file else 0
    budget = max_cycles or 50 * per_frame * len(images) + 2_000_000 + (len(images) + len(net.layers)) * estimate(net).ii + 4 * load_beats
    args = [str(binary), "inputs.memh", "outputs.txt", str(per_frame), str(out_per_frame * len(images)), str(stall), str(stall), str(seed), str(budget)]
    if trace:
        # after the last input beat every layer has at most one frame of work left: the sum
        # of their frame cycles bounds how long the traces take to complete
        args += ["+trace", f"+drain={sum(layer_cycles(l) for l in net.layers)}"]
    if load_file:
        args.append(f"+wload={load_file}")
    log(f"simulating {len(images)} frame(s)")
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=build_dir, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"simulation failed ({proc.returncode}): {proc.stderr[-2000:]}")
    frame_in, outs, out_cycles, end, load = [], [], [], 0, None
    for line in (build_dir / "outputs.txt").read_text().splitlines():
        kind, *rest = line.split()
        if kind == "load":
            load = int(rest[0]) + 1
        elif kind == "in":
            frame_in.append(int(rest[1]))
        elif kind == "out":
            out_cycles.append(int(rest[0]))
            outs.append(int(rest[1], 16))
        else:
            end = int(rest[0])
    o = manifest["output"]
    values = pack.unpack_words(outs, o["elems"], o["bits"], o["signed"]).reshape(-1)
    outputs = [values[i * out_per_frame : (i + 1) * out_per_frame] for i in range(len(values) // out_per_frame)]
    done = [out_cycles[(i + 1) * out_per_frame - 1] for i in range(len(outputs))]
    mismatch = compare_traces(net, manifest, build_dir, traces, outputs, trace)
    return SimResult(outputs, expected, frame_in, done, end, mismatch, seconds, load)


def compare_traces(net: ir.Network, manifest: dict, build_dir: Path, traces: list[list[np.ndarray]],
                      outputs: list[np.ndarray], traced: bool) -> Divergence | None:
    """Per frame, the traced layers' streams (in stream order), then the output, against the reference."""
    by_name = {layer.name: (i, layer) for i, layer in enumerate(net.layers)}
    streams = []
    for t in manifest["traces"] if traced else ():
        path = build_dir / t["file"]
        words = [int(w, 16) for w in path.read_text().split()] if path.exists() else []
        streams.append((*by_name[t["layer"]], pack.unpack_words(words, t["elems"], t["bits"], t["signed"]).reshape(-1)))
    for frame, want in enumerate(traces):
        compared = [(layer, got[frame * want[i].size : (frame + 1) * want[i].size], want[i]) for i, layer, got in streams]
        compared.append(("the output", outputs[frame] if frame < len(outputs) else (), want[-1]))
        found = first_divergence("RTL", frame, compared)
        if found is not None:
            return found
    return None
