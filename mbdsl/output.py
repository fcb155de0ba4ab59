"""Writing generated output atomically: all files appear together, or none do.

Everything is first written under a hidden name beside its destination,
``.mbdsl-<pid>-...``, then renamed into place. A run killed before the rename (even by
SIGKILL) leaves such a name behind; the next write into the same folder removes every one
whose process no longer runs. A destination that cannot be written (a missing folder, a
file where a folder should be, a directory, a FIFO or device where a file should be) is
refused with a one-line error before anything is written.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile

from .errors import MbdslError

__all__ = ["write_tree", "write_file", "write_files", "check_writable", "check_folder", "check_destination"]

_STAGING = re.compile(r"\.mbdsl-(?:old-)?(\d+)-")


def _default_mode(directory: bool) -> int:
    """The mode a plain ``open``/``mkdir`` would give under the process umask (tempfile's
    are private, 0600/0700)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _sweep(folder: str) -> None:
    """Remove what killed runs left in ``folder``: staging names of processes gone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _STAGING.match(name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            path = os.path.join(folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass


def _refuse(path: str, why: str, hint: str) -> MbdslError:
    return MbdslError(f"cannot write {path}: {why}", hint=hint)


def _folder(path: str, create: bool) -> str:
    """The folder ``path`` goes into; made (with its parents) if ``create``."""
    folder = os.path.dirname(path)
    _probe(path)
    if not os.path.isdir(folder):
        if not create:
            raise _refuse(path, f"the folder {folder} does not exist", "create the folder first, or write elsewhere")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise _refuse(path, (exc.strerror or str(exc)).lower(), "choose another output folder") from None
    return folder


def _check_file_destination(path: str) -> None:
    """``path`` may be replaced by a file: absent, or a regular file (or a link to one)."""
    if os.path.lexists(path):
        st = os.stat(path) if os.path.exists(path) else os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            raise _refuse(path, "it is a folder", "give the path of a file")
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISLNK(st.st_mode):
            raise _refuse(path, "it is not a regular file (a FIFO, device or socket)", "give the path of a regular file")


def write_tree(dest: str, files: dict[str, str | bytes]) -> list[str]:
    """Replace directory ``dest`` with exactly ``files`` (relative path -> content).

    The tree is written next to ``dest`` and renamed into place, so an error half way
    leaves the previous output untouched. Returns the written paths, sorted.
    """
    dest = os.path.abspath(dest)
    if os.path.lexists(dest) and not os.path.isdir(dest):
        raise _refuse(dest, "a file of that name is in the way", "remove it, or give another output folder")
    parent = _folder(dest, create=True)
    _sweep(parent)
    try:
        staging = tempfile.mkdtemp(prefix=f".mbdsl-{os.getpid()}-", dir=parent)
    except OSError as exc:
        raise _refuse(dest, (exc.strerror or str(exc)).lower(), "choose another output folder") from None
    os.chmod(staging, _default_mode(directory=True))
    try:
        for rel, content in sorted(files.items()):
            path = os.path.join(staging, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
        old = None
        if os.path.exists(dest):
            old = tempfile.mkdtemp(prefix=f".mbdsl-old-{os.getpid()}-", dir=parent)
            os.rename(dest, os.path.join(old, "tree"))
        os.rename(staging, dest)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(os.path.join(dest, rel) for rel in files)


def check_folder(path: str) -> None:
    """Refuse a path that cannot be (or become) a folder: a file is in the way."""
    path = os.path.abspath(path)
    if os.path.lexists(path) and not os.path.isdir(path):
        raise _refuse(path, "a file of that name is in the way", "remove it, or give another folder")
    _probe(path)


def _probe(path: str) -> None:
    probe = os.path.dirname(path)
    while probe and not os.path.lexists(probe):
        probe = os.path.dirname(probe)
    if probe and not os.path.isdir(probe):
        raise _refuse(path, f"{probe} is not a folder", "choose an output path whose folders are folders")


def check_destination(path: str) -> None:
    """Refuse a destination that cannot become a file: a folder, FIFO or device is there,
    or a file stands where one of its folders should be (missing folders are allowed)."""
    path = os.path.abspath(path)
    _check_file_destination(path)
    _probe(path)


def check_writable(paths, make_folders: bool = False) -> None:
    """Refuse destinations that cannot be written as files (see :func:`write_files`);
    with ``make_folders``, their missing folders are made."""
    for path in paths:
        check_destination(path)
    for path in map(os.path.abspath, paths):
        _folder(path, create=make_folders)


def write_files(files: dict[str, str | bytes], make_folders: bool = False) -> None:
    """Write several files (absolute or relative path -> content) all or none: every
    destination is checked and every content written beside it before any is renamed
    into place. Missing folders are an error unless ``make_folders``."""
    targets = {os.path.abspath(p): c for p, c in files.items()}
    check_writable(targets, make_folders)
    for folder in {os.path.dirname(p) for p in targets}:
        _sweep(folder)
    staged: dict[str, str] = {}
    try:
        for path, content in targets.items():
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".mbdsl-{os.getpid()}-{os.path.basename(path)}.", dir=os.path.dirname(path))
            except OSError as exc:
                raise _refuse(path, (exc.strerror or str(exc)).lower(), "choose another output folder") from None
            staged[path] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
            os.chmod(tmp, _default_mode(directory=False))
        for path, tmp in staged.items():
            os.replace(tmp, path)
    except BaseException:
        for tmp in staged.values():
            if os.path.exists(tmp):
                os.unlink(tmp)
        raise


def write_file(path: str, content: str | bytes, make_folders: bool = False) -> None:
    """Write one file atomically: a temporary file beside it, renamed over it."""
    write_files({path: content}, make_folders)
