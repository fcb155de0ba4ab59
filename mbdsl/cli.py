"""The ``mbdsl`` command: parses arguments, runs a subcommand, reports user errors."""

from __future__ import annotations

import argparse
import importlib
import keyword
import signal
import sys
import threading

from .commands import COMMANDS
from .errors import MbdslError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mbdsl", description="Hardware generator for quantized MobileNet-style CNNs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = name.replace("-", "_") + ("_" if keyword.iskeyword(name) else "")  # import -> import_
        importlib.import_module(f"mbdsl.commands.{module}").register(sub)
    return parser


def _terminated(signum, _frame):
    # SIGTERM as an exception, so that writers remove what they staged (see mbdsl.output).
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a path that is not UTF-8 is printed escaped, not fatal
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminated)
    try:
        return args.func(args)
    except MbdslError as exc:
        print(exc.render(), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # the machine refused (disk full, permissions): not a bug to show as one
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot proceed:{where} {(exc.strerror or str(exc)).lower()}", file=sys.stderr)
        print("hint: check the paths and the free space", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        print("hint: use a smaller network or fewer images; the limits are listed in docs/dsl.md, 'Limits'", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
