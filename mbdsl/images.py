"""Input images: reading user files and making seeded random ones, in the network's format."""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from . import ir
from .errors import MbdslError
from .files import MAX_IMAGE_BYTES, check_file

__all__ = ["random_images", "iter_random_images", "read_image", "image_bytes"]


def image_bytes(inp: ir.Input) -> int:
    s = inp.shape
    return s.h * s.w * 3 // 2 if inp.format == "nv12" else s.size


def random_images(inp: ir.Input, count: int, seed: int = 0) -> list[np.ndarray]:
    """Seeded random inputs: (H, W, C) uint8 arrays, or flat NV12 frames."""
    return list(iter_random_images(inp, count, seed))


def iter_random_images(inp: ir.Input, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """The images of :func:`random_images`, made one at a time as they are taken."""
    rng = np.random.default_rng(seed)
    s = inp.shape
    shape = (image_bytes(inp),) if inp.format == "nv12" else (s.h, s.w, s.c)
    for _ in range(count):
        yield rng.integers(0, 256, shape, dtype=np.uint8)


def read_image(path: str, inp: ir.Input) -> np.ndarray:
    """A ``.npy`` array, a binary PPM (P6) for RGB inputs, or raw bytes (``.nv12``, ``.raw``)."""
    check_file(path, "image", MAX_IMAGE_BYTES, hint="give a .npy, .ppm or raw image file")
    s = inp.shape
    try:
        if path.endswith(".npy"):
            image = np.load(path, allow_pickle=False)
        elif path.endswith((".ppm", ".pnm")):
            image = _read_ppm(path)
        else:
            image = np.fromfile(path, dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise MbdslError(f"cannot read image {path}: {exc}") from None
    want = (image_bytes(inp),) if inp.format == "nv12" else (s.h, s.w, s.c)
    if image.size == int(np.prod(want)) and image.dtype == np.uint8:
        return image.reshape(want)
    raise MbdslError(
        f"image {path} holds {image.size} values of type {image.dtype}; the network takes {inp.format} {s.h}x{s.w}"
        f" ({int(np.prod(want))} bytes)",
        hint="resize the image to the network's input, or save it as a uint8 .npy of shape " + "x".join(map(str, want)),
    )


def _read_ppm(path: str) -> np.ndarray:
    with open(path, "rb") as f:
        data = f.read()
    fields = []
    pos = 0
    while len(fields) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or int(fields[3]) != 255:
        raise ValueError("only 8-bit binary PPM (P6) files are read")
    w, h = int(fields[1]), int(fields[2])
    return np.frombuffer(data[pos + 1 : pos + 1 + w * h * 3], dtype=np.uint8).reshape(h, w, 3)


