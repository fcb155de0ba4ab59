"""Writing generated trees atomically: all files appear together, or none do."""

from __future__ import annotations

import os
import shutil
import tempfile

__all__ = ["write_tree", "write_file"]


def _default_mode(directory: bool) -> int:
    """The mode a plain ``open``/``mkdir`` would give under the process umask (tempfile's
    are private, 0600/0700)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


def write_tree(dest: str, files: dict[str, str | bytes]) -> list[str]:
    """Replace directory ``dest`` with exactly ``files`` (relative path -> content).

    The tree is written next to ``dest`` and renamed into place, so an error half way
    leaves the previous output untouched. Returns the written paths, sorted.
    """
    dest = os.path.abspath(dest)
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".mbdsl-", dir=parent)
    os.chmod(staging, _default_mode(directory=True))
    try:
        for rel, content in sorted(files.items()):
            path = os.path.join(staging, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
        old = None
        if os.path.exists(dest):
            old = tempfile.mkdtemp(prefix=".mbdsl-old-", dir=parent)
            os.rename(dest, os.path.join(old, "tree"))
        os.rename(staging, dest)
        if old:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(os.path.join(dest, rel) for rel in files)


def write_file(path: str, content: str | bytes) -> None:
    """Write one file atomically: a temporary file beside it, renamed over it."""
    path = os.path.abspath(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        os.chmod(tmp, _default_mode(directory=False))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
