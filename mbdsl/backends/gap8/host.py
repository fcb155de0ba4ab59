"""Running generated GAP8 C on the host: build with gcc against the checking shim, run on
images, and compare every layer with the numpy reference bit for bit.

The shim (``shim/gap8_host.c``) implements the SDK calls the generated code makes and
enforces the plan's budgets (L1 and L2 less their reserves, L3, cores); it fails loudly on
a buffer touched before its DMA was waited for. See ``docs/gap8.md``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from importlib import resources

import attrs
import numpy as np

from ... import ir, reference
from ...divergence import Divergence, first_divergence
from ...errors import MbdslError
from ._emit import c_name, generate
from ._plan import NetworkPlan, plan_network

__all__ = ["HostRun", "build", "run", "compare", "rv32_compile", "riscv_gcc", "HostBuildError"]

RV32_FLAGS = ["-march=rv32imc", "-mabi=ilp32", "-ffreestanding", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2"]


class HostBuildError(MbdslError):
    """The generated C did not build or run on the host."""


def _shim(name: str) -> str:
    return resources.files("mbdsl.backends.gap8").joinpath("shim", name).read_text()


def _host_net_h(net: ir.Network, plan: NetworkPlan) -> str:
    p = c_name(net.name)
    first, last = plan.layers[0].geom, plan.layers[-1].geom
    return "\n".join(
        [
            f'#include "{p}.h"',
            f"#define NET {p}",
            f"#define NET_INPUT_BYTES {p.upper()}_INPUT_BYTES",
            f"#define NET_OUTPUT_COUNT {p.upper()}_OUTPUT_COUNT",
            f"#define NET_FLASH_BYTES {p.upper()}_FLASH_BYTES",
            f"#define NET_IN_T {first.in_ctype}",
            f"#define NET_OUT_T {last.out_ctype}",
            "",
        ]
    )


def build(net: ir.Network, params, workdir: str, plan: NetworkPlan | None = None, files=None) -> str:
    """Write the generated tree and the shim into ``workdir`` and build the host program.
    Returns the executable's path."""
    plan = plan or plan_network(net)
    files = files if files is not None else generate(net, params, plan)
    os.makedirs(workdir, exist_ok=True)
    for rel, content in files.items():
        with open(os.path.join(workdir, rel), "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
    for name in ("gap8_host.c", "host_main.c"):
        with open(os.path.join(workdir, name), "w") as f:
            f.write(_shim(name))
    with open(os.path.join(workdir, "host_net.h"), "w") as f:
        f.write(_host_net_h(net, plan))
    t = plan.target
    p = c_name(net.name)
    exe = os.path.join(workdir, "gap8_host")
    cmd = [
        "gcc", "-std=gnu99", "-O2", "-g", "-Wall", "-Wextra", "-DMBDSL_TRACE",
        f"-DMBDSL_HOST_L1={t.l1 - t.l1_reserve}", f"-DMBDSL_HOST_L2={t.l2 - t.l2_reserve}",
        f"-DMBDSL_HOST_L3={t.l3}u", f"-DMBDSL_HOST_CORES={t.cores}",
        "-I", workdir, "-o", exe,
        os.path.join(workdir, f"{p}.c"), os.path.join(workdir, "mbdsl_tiler.c"),
        os.path.join(workdir, "gap8_host.c"), os.path.join(workdir, "host_main.c"),
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HostBuildError(f"gcc failed on the generated GAP8 C in {workdir}:\n{proc.stderr[-4000:]}")
    return exe


@attrs.frozen
class HostRun:
    """Every layer's output per image (as the host program produced them), the network
    results, and the host's wall time per image (seconds)."""

    layers: list
    """[image] -> {IR layer index -> flat output}; a depthwise layer fused into the next
    step has no entry (its output never leaves L1)."""
    results: list  # [image] -> np.ndarray
    seconds: list
    build_seconds: float


def _dtype(ctype: str):
    return {"uint8_t": np.uint8, "int8_t": np.int8, "int32_t": np.int32}[ctype]


def run(net: ir.Network, params, images, workdir: str | None = None, plan: NetworkPlan | None = None) -> HostRun:
    """Build and run the generated C on ``images``; returns what every layer wrote."""
    plan = plan or plan_network(net)
    own = workdir is None
    workdir = workdir or tempfile.mkdtemp(prefix="mbdsl-gap8-")
    try:
        t0 = time.perf_counter()
        exe = build(net, params, workdir, plan)
        built = time.perf_counter() - t0
        layers, results, seconds = execute(net, images, exe, weights_file(net, workdir), workdir, plan)
        return HostRun(layers, results, seconds, built)
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)


def weights_file(net: ir.Network, workdir: str) -> str:
    """Where :func:`build` writes the weights blob the host program loads."""
    return os.path.join(workdir, f"{c_name(net.name)}_weights.bin")


def execute(net: ir.Network, images, exe: str, weights: str, scratch: str, plan: NetworkPlan | None = None):
    """Run a built host program on ``images`` (its inputs and trace go to ``scratch``):
    (per image {layer index -> flat output}, per image the result, per image seconds)."""
    plan = plan or plan_network(net)
    xs = reference.prepare_inputs(net, images)
    first = plan.layers[0].geom
    with open(os.path.join(scratch, "images.bin"), "wb") as f:
        f.write(np.ascontiguousarray(xs).astype(_dtype(first.in_ctype)).tobytes())
    trace = os.path.join(scratch, "trace.bin")
    proc = subprocess.run(
        [exe, weights, os.path.join(scratch, "images.bin"), str(len(xs)), trace],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise HostBuildError(
            f"the generated GAP8 code failed on the host (exit {proc.returncode}):\n{(proc.stderr or proc.stdout)[-4000:]}"
        )
    seconds = [float(line.split(":")[1].split()[0]) / 1e3 for line in proc.stdout.splitlines() if line.startswith("image")]
    with open(trace, "rb") as f:
        raw = f.read()
    pos = 0
    layers, results = [], []
    last = plan.layers[-1].geom
    for _ in range(len(xs)):
        outs = {}
        for lp in plan.layers:
            g = lp.geom
            n = g.oh * g.ow * g.cout
            dt = np.dtype(_dtype(g.out_ctype))
            outs[lp.members[-1]] = np.frombuffer(raw, dtype=dt, count=n, offset=pos).astype(np.int64)
            pos += n * dt.itemsize
        dt = np.dtype(_dtype(last.out_ctype))
        n = last.oh * last.ow * last.cout
        results.append(np.frombuffer(raw, dtype=dt, count=n, offset=pos).astype(np.int64))
        pos += n * dt.itemsize
        layers.append(outs)
    return layers, results, seconds


def compare(net: ir.Network, params, images, hr: HostRun) -> Divergence | None:
    """The first image, and in it the first layer (then the result copied out), where the host
    output differs from the reference."""
    for k, image in enumerate(images):
        ref = reference.run(net, params, image)
        compared = [(layer, hr.layers[k][i], want) for i, (layer, want) in enumerate(zip(net.layers, ref)) if i in hr.layers[k]]
        compared.append(("the network result copied out", hr.results[k], ref[-1]))
        found = first_divergence("host", k, compared)
        if found is not None:
            return found
    return None


def riscv_gcc() -> str | None:
    """A RISC-V gcc that can target rv32 (Debian gcc-riscv64-unknown-elf), if installed."""
    for name in ("riscv64-unknown-elf-gcc", "riscv32-unknown-elf-gcc"):
        path = shutil.which(name)
        if path:
            return path
    return None


def rv32_compile(files: dict, workdir: str, gcc: str | None = None) -> dict[str, int]:
    """Compile the generated C (no shim) as freestanding rv32imc C; returns object sizes
    (text bytes per file). Raises HostBuildError on any warning or error."""
    gcc = gcc or riscv_gcc()
    if gcc is None:
        raise HostBuildError("no RISC-V gcc found (Debian package gcc-riscv64-unknown-elf)")
    os.makedirs(workdir, exist_ok=True)
    for rel, content in files.items():
        with open(os.path.join(workdir, rel), "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
    sizes = {}
    for rel in sorted(files):
        if not rel.endswith(".c"):
            continue
        obj = os.path.join(workdir, rel[:-2] + ".o")
        proc = subprocess.run([gcc, *RV32_FLAGS, "-c", os.path.join(workdir, rel), "-o", obj], capture_output=True, text=True)
        if proc.returncode != 0:
            raise HostBuildError(f"rv32 compile of {rel} failed:\n{proc.stderr[-4000:]}")
        sizes[rel] = os.path.getsize(obj)
    return sizes
