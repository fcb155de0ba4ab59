"""Generated output: written atomically, with ordinary permissions, byte-identical when
regenerated, and untouched when generation fails."""

from __future__ import annotations

import os
import stat

import pytest

from mbdsl.cli import main
from mbdsl.output import write_file, write_tree

SPEC = "specs/mobilenet_v1_w0.25_32.mbn"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _tree(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_write_tree_replaces_the_whole_tree_with_plain_permissions(tmp_path):
    dest = tmp_path / "out"
    write_tree(str(dest), {"a.txt": "one", "sub/b.bin": b"\x00\x01"})
    write_tree(str(dest), {"c.txt": "three"})
    assert _tree(dest) == {"c.txt": b"three"}  # a.txt and sub/ are gone
    assert stat.S_IMODE(dest.stat().st_mode) == 0o777 & ~_umask()
    assert stat.S_IMODE((dest / "c.txt").stat().st_mode) == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging directories left


def test_write_tree_failing_half_way_leaves_the_old_tree(tmp_path):
    dest = tmp_path / "out"
    write_tree(str(dest), {"a.txt": "old"})
    with pytest.raises(TypeError):
        write_tree(str(dest), {"b.txt": "new", "c.txt": None})  # None cannot be written
    assert _tree(dest) == {"a.txt": b"old"}
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_write_file_has_plain_permissions(tmp_path):
    path = tmp_path / "spec.mbn"
    write_file(str(path), "network n {}\n")
    assert path.read_text() == "network n {}\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
    assert [p.name for p in tmp_path.iterdir()] == ["spec.mbn"]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["rtl", "hls", "gap8"])
def test_regenerating_gives_byte_identical_files(target, tmp_path, capsys):
    spec = SPEC if target != "gap8" else "specs/mobilenet_v1_int8_w0.25_32.mbn"
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["gen", spec, "--target", target, "-o", str(first)]) == 0
    assert main(["gen", spec, "--target", target, "-o", str(second)]) == 0
    one, two = _tree(first), _tree(second)
    assert len(one) > 3 and one == two


def test_failed_generation_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.mbn"
    bad.write_text(open(SPEC).read().replace("fold(pe = 8, simd = 3)", "fold(pe = 3, simd = 3)"))
    out = tmp_path / "gen"
    assert main(["gen", str(bad), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:7:" in err and "error:" in err  # 8 output channels do not split over PE 3
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mbn"]


def test_a_killed_write_leaves_nothing_after_the_next_one(tmp_path):
    """gen killed by SIGKILL between writing its staging tree and renaming it leaves a hidden
    .mbdsl-<pid>-* folder; the next write into the same folder removes it (the process is
    gone), and keeps one of a process that still runs."""
    import signal
    import subprocess
    import sys

    dest = tmp_path / "out" / "rtl"
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal\n"
        "os.rename = lambda *a: os.kill(os.getpid(), signal.SIGKILL)\n"
        "from mbdsl.output import write_tree\n"
        f"write_tree({str(dest)!r}, {{'a.sv': 'module a; endmodule'}})\n")])
    assert killed.returncode == -signal.SIGKILL
    left = [p.name for p in (tmp_path / "out").iterdir()]
    assert len(left) == 1 and left[0].startswith(".mbdsl-")
    alive = tmp_path / "out" / ".mbdsl-1-kept"  # pid 1 always runs
    alive.mkdir()
    write_tree(str(dest), {"b.sv": "module b; endmodule"})
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".mbdsl-1-kept", "rtl"]
    assert _tree(dest) == {"b.sv": b"module b; endmodule"}


def test_write_file_refuses_a_fifo_and_a_folder(tmp_path):
    from mbdsl.errors import MbdslError

    os.mkfifo(tmp_path / "p")
    (tmp_path / "d").mkdir()
    with pytest.raises(MbdslError, match=r"cannot write .*/p: it is not a regular file"):
        write_file(str(tmp_path / "p"), "x")
    with pytest.raises(MbdslError, match=r"cannot write .*/d: it is a folder"):
        write_file(str(tmp_path / "d"), "x")
    with pytest.raises(MbdslError, match=r"cannot write .*/nowhere/x: the folder .*/nowhere does not exist"):
        write_file(str(tmp_path / "nowhere" / "x"), "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "p"]


@pytest.mark.slow
def test_sigterm_during_gen_leaves_nothing(tmp_path):
    """SIGTERM arriving while gen renames its tree into place: the staging tree is removed
    and the command exits with 128 + SIGTERM."""
    import signal
    import subprocess
    import sys

    out = tmp_path / "out"
    code = (
        "import os, signal, sys\n"
        "os.rename = lambda *a: os.kill(os.getpid(), signal.SIGTERM)\n"
        "from mbdsl.cli import main\n"
        f"sys.exit(main(['gen', {os.path.abspath(SPEC)!r}, '-o', {str(out)!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert [p.name for p in out.rglob("*")] == ["mobilenet_v1_w025_32"]  # the network's folder, empty
