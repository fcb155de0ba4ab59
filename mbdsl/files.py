"""Opening the files a user names: only regular files, and never more than a stated size.

Every reader of user input (spec, include, weight archive, image, QONNX model) opens its
file through :func:`open_regular` or :func:`read_bytes`. A FIFO, a device such as
``/dev/zero``, a directory or a socket is refused before a byte is read (a FIFO is opened
non-blocking, so a named pipe with no writer cannot hang the command), and so is a file
larger than the reader's limit: nothing is read whole that could exhaust memory.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .errors import MbdslError, Span

__all__ = [
    "MAX_SPEC_BYTES",
    "MAX_WEIGHT_BYTES",
    "MAX_IMAGE_BYTES",
    "MAX_MODEL_BYTES",
    "check_file",
    "check_utf8_path",
    "open_regular",
    "read_bytes",
    "read_text",
]

MAX_SPEC_BYTES = 256 << 10
"""Most text a spec and its included files hold together: 256 KiB (the largest example
spec is under 2 kB; 4,096 layer statements, the most a network has, take about 220 kB)."""
MAX_WEIGHT_BYTES = 256 << 20
"""Largest weight archive, and the most its arrays may hold once unpacked: 256 MiB."""
MAX_IMAGE_BYTES = 64 << 20
"""Largest image file: 64 MiB."""
MAX_MODEL_BYTES = 256 << 20
"""Largest QONNX model file: 256 MiB."""

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def open_regular(
    path: str,
    what: str,
    limit: int,
    *,
    error: type[MbdslError] = MbdslError,
    span: Span | None = None,
    shown: str | None = None,
    hint: str | None = None,
) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file of at most ``limit`` bytes.

    ``what`` names the file in messages ("spec", "weight file", ...), ``shown`` is how its
    path is shown (default ``path``); a refusal raises ``error`` at ``span`` with ``hint``.
    """
    shown = path if shown is None else shown
    if "\0" in path:
        raise error(f"cannot read {what} {shown}: a path cannot hold a NUL character", span, "check the path")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise error(f"cannot read {what} {shown}: {_reason(exc)}", span, hint or "check the path") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a regular file")
            raise error(f"{what} {shown} is {kind}, not a regular file", span, "give the path of a regular file")
        if st.st_size > limit:
            raise error(
                f"{what} {shown} is {st.st_size:,} bytes, more than the limit of {limit:,}",
                span,
                "the limits are listed in docs/dsl.md, 'Limits'",
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_utf8_path(path: str, what: str, hint: str) -> None:
    """Refuse a path that is not UTF-8 (Linux allows any bytes) where it is written into
    UTF-8 text: a generated file's header, an imported spec's weights line."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise MbdslError(f"the {what} path {os.fsencode(path).decode('utf-8', 'backslashreplace')} is not UTF-8", hint=hint) from None


def check_file(path: str, what: str, limit: int, **kwargs) -> None:
    """Refuse ``path`` unless it is a regular file of at most ``limit`` bytes, for readers
    that open it themselves (keyword arguments as :func:`open_regular`)."""
    open_regular(path, what, limit, **kwargs).close()


def read_bytes(
    path: str,
    what: str,
    limit: int,
    *,
    error: type[MbdslError] = MbdslError,
    span: Span | None = None,
    shown: str | None = None,
    hint: str | None = None,
) -> bytes:
    """The whole content of a regular file of at most ``limit`` bytes (arguments as
    :func:`open_regular`)."""
    shown = path if shown is None else shown
    with open_regular(path, what, limit, error=error, span=span, shown=shown, hint=hint) as f:
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {shown}: {_reason(exc)}", span, hint or "check the path") from None
    if len(data) > limit:  # the file grew after it was opened
        raise error(f"{what} {shown} is more than the limit of {limit:,} bytes", span, "the limits are listed in docs/dsl.md, 'Limits'")
    return data


def read_text(path: str, what: str, limit: int = MAX_SPEC_BYTES, **kwargs) -> str:
    """A regular UTF-8 text file of at most ``limit`` bytes (keyword arguments as
    :func:`open_regular`)."""
    data = read_bytes(path, what, limit, **kwargs)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = kwargs.get("shown") or path
        raise kwargs.get("error", MbdslError)(
            f"{what} {shown} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x})",
            kwargs.get("span"),
            "save it as UTF-8 text",
        ) from None
