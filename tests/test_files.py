"""mbdsl/files.py: only regular files are read, never beyond the reader's limit."""

from __future__ import annotations

import os
import threading

import pytest

from mbdsl.errors import IncludeError, MbdslError, Span
from mbdsl.files import open_regular, read_bytes, read_text


def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path):
    os.mkfifo(tmp_path / "p")
    caught = []

    def read():
        try:
            read_text(str(tmp_path / "p"), "spec")
        except MbdslError as exc:
            caught.append(exc.message)

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "reading a FIFO blocked"
    assert caught == [f"spec {tmp_path / 'p'} is a named pipe (FIFO), not a regular file"]


@pytest.mark.parametrize("path, kind", [("/dev/zero", "a character device"), ("/", "a directory")])
def test_devices_and_directories_are_refused(path, kind):
    with pytest.raises(MbdslError) as info:
        read_bytes(path, "image", 1 << 20)
    assert info.value.message == f"image {path} is {kind}, not a regular file"


def test_the_limit_is_checked_before_reading(tmp_path):
    big = tmp_path / "big"
    with open(big, "wb") as f:
        f.truncate(1001)
    with pytest.raises(MbdslError) as info:
        open_regular(str(big), "model", 1000)
    assert info.value.message == f"model {big} is 1,001 bytes, more than the limit of 1,000"
    (tmp_path / "ok").write_bytes(b"x" * 1000)
    assert read_bytes(str(tmp_path / "ok"), "model", 1000) == b"x" * 1000


def test_errors_carry_the_callers_class_span_and_hint(tmp_path):
    span = Span("a.mbn", 3, 1, 10, 'include "x.mbn"')
    with pytest.raises(IncludeError) as info:
        read_text(str(tmp_path / "x.mbn"), "included file", error=IncludeError, span=span, shown="'x.mbn'", hint="look here")
    assert info.value.message == "cannot read included file 'x.mbn': no such file or directory"
    assert info.value.span is span and info.value.hint == "look here"
    (tmp_path / "bad.mbn").write_bytes(b"ok\n\xff")
    with pytest.raises(MbdslError) as info:
        read_text(str(tmp_path / "bad.mbn"), "spec")
    assert info.value.message.endswith("bad.mbn is not UTF-8 text (byte 3 is 0xff)")
