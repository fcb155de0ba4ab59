"""Input images: reading user files and making seeded random ones, in the network's format.

A photo (PNG, JPEG, BMP, PPM, ... decoded by Pillow, or a uint8 ``.npy`` of shape (H, W, C))
becomes the network's input in three steps, all defined here:

1. channels: the photo is converted to the network's channel count with Pillow's mode
   conversions (1 channel: luma ``L = (299 R + 587 G + 114 B) / 1000``; 3 channels: a
   grayscale photo is replicated into R, G and B; an alpha channel is dropped, keeping the
   stored colors; 4 channels: RGBA, alpha 255 where the photo has none);
2. size: with ``resize N`` in the spec's input block, the shorter side is resized to N
   pixels (bilinear, Pillow's antialiased filter) and the center H x W is cropped, as
   torchvision's ``Resize(N)`` + ``CenterCrop((H, W))``; without it the photo must be
   exactly H x W;
3. format: an ``nv12`` input converts the RGB result with :func:`mbdsl.semantics.rgb_to_nv12`.

Raw NV12 frames are read from ``.nv12``/``.yuv`` files (exactly H*W*3/2 bytes) or a flat
``.npy``.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
from PIL import Image, UnidentifiedImageError

from . import ir
from .errors import MbdslError
from .files import MAX_IMAGE_BYTES, check_file
from .semantics import rgb_to_nv12

__all__ = ["random_images", "iter_random_images", "read_image", "image_bytes", "from_array", "RAW_SUFFIXES"]

RAW_SUFFIXES = (".nv12", ".yuv")
"""File names read as raw NV12 bytes instead of being decoded."""

_PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}
_8BIT_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "La", "RGBa")


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


def _error(path: str, message: str, hint: str | None = None) -> MbdslError:
    return MbdslError(f"image {path}: {message}", hint=hint)


def read_image(path: str, inp: ir.Input) -> np.ndarray:
    """The network input made from an image file: (H, W, C) uint8, or a flat NV12 frame.

    Raises MbdslError for a file that is not a regular file of bounded size, not an image,
    an image of the wrong shape, or a size that the spec's input block does not say how to fit.
    """
    check_file(path, "image", MAX_IMAGE_BYTES, hint="give a photo (PNG, JPEG, BMP, PPM), a uint8 .npy (H, W, C) or a raw .nv12 frame")
    lower = path.lower()
    try:
        if lower.endswith(".npy"):
            array = np.load(path, allow_pickle=False)
            if not isinstance(array, np.ndarray):  # an .npz archive under an .npy name
                array.close()
                raise _error(path, "is an .npz archive, not a single .npy array", "save the image with numpy.save")
        elif lower.endswith(RAW_SUFFIXES):
            array = np.fromfile(path, dtype=np.uint8)
            if inp.format != "nv12" or array.size != image_bytes(inp):
                want = f"an nv12 frame of {image_bytes(inp)} bytes" if inp.format == "nv12" else "no raw frames (its input is u8)"
                raise _error(path, f"holds {array.size} raw bytes; the network takes {want}",
                             "give the photo as PNG/JPEG/BMP/PPM or a uint8 .npy (H, W, C)")
            return array
        else:
            with Image.open(path) as im:
                return _fit(path, _pil_to_array(path, im, inp.shape.c), inp)
    except Image.DecompressionBombError as exc:
        raise _error(path, f"refused: {exc}", "a real photo for a CNN is far smaller; resize it first") from None
    except UnidentifiedImageError:
        raise _error(
            path,
            "not an image file that Pillow can decode",
            "give PNG, JPEG, BMP or PPM, a uint8 .npy of shape (H, W, C), or a raw .nv12 frame",
        ) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise _error(path, f"cannot read it: {exc}") from None
    return from_array(array, inp, path)


def from_array(array: np.ndarray, inp: ir.Input, name: str = "array") -> np.ndarray:
    """The network input made from a uint8 array: (H', W', C') photo pixels (fit as a photo
    read from a file is), or a flat NV12 frame for an nv12 input."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise _error(name, f"holds {a.dtype} values; images are uint8 (0..255)", "convert with array.astype(np.uint8) after scaling to 0..255")
    if inp.format == "nv12" and a.ndim == 1:
        if a.size != image_bytes(inp):
            raise _error(name, f"is a flat frame of {a.size} bytes; an nv12 {inp.shape.h}x{inp.shape.w} frame has {image_bytes(inp)}")
        return a
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise _error(name, f"has shape {a.shape}; an image is (H, W, C)")
    c = inp.shape.c
    if a.shape[2] not in (1, 3, 4) and a.shape[0] in (1, 3, 4):
        raise _error(name, f"has shape {a.shape}, which looks channels-first (C, H, W)", "transpose it to (H, W, C): array.transpose(1, 2, 0)")
    if a.shape[2] != c:
        if a.shape[2] not in _PIL_MODES or c not in _PIL_MODES:
            raise _error(name, f"has {a.shape[2]} channels; the network takes {c}")
        src = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a, _PIL_MODES[a.shape[2]])
        a = _pil_to_array(name, src, c)
    return _fit(name, a, inp)


def _pil_to_array(name: str, im: Image.Image, channels: int) -> np.ndarray:
    if channels not in _PIL_MODES:
        raise _error(name, f"the network takes {channels} channels; photos convert to 1 (gray), 3 (RGB) or 4 (RGBA)",
                     f"give a uint8 .npy of shape (H, W, {channels})")
    if im.mode not in _8BIT_MODES:
        raise _error(name, f"has pixel mode {im.mode!r}; only 8-bit images are read", "save it with 8 bits per channel")
    if im.mode in ("LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info):
        # Drop alpha explicitly (keep the stored colors) before converting.
        im = im.convert("RGBA").convert("RGB")
    a = np.asarray(im.convert(_PIL_MODES[channels]), dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a


def _fit(name: str, a: np.ndarray, inp: ir.Input) -> np.ndarray:
    """Resize and center-crop (or insist on the exact size), then convert to NV12 if asked."""
    s = inp.shape
    h, w = a.shape[:2]
    if inp.resize is not None:
        short, long_ = (h, w) if h <= w else (w, h)
        new_long = int(inp.resize * long_ / short)
        nh, nw = (inp.resize, new_long) if h <= w else (new_long, inp.resize)
        if (nh, nw) != (h, w):
            if a.shape[2] not in _PIL_MODES:
                raise _error(name, f"is {h}x{w} with {a.shape[2]} channels; only 1, 3 or 4 channels can be resized",
                             f"give it at exactly {s.h}x{s.w}")
            mode = _PIL_MODES[a.shape[2]]
            im = Image.fromarray(a[:, :, 0] if a.shape[2] == 1 else a, mode).resize((nw, nh), Image.Resampling.BILINEAR)
            a = np.asarray(im, dtype=np.uint8).reshape(nh, nw, -1)
        top, left = int(round((nh - s.h) / 2.0)), int(round((nw - s.w) / 2.0))
        a = a[top : top + s.h, left : left + s.w]
    elif (h, w) != (s.h, s.w):
        raise _error(
            name,
            f"is {h}x{w} (HxW); the network's input is exactly {s.h}x{s.w}",
            f"resize the photo, or add 'resize {max(s.h, s.w) * 8 // 7}' to the spec's input block to resize and center-crop",
        )
    a = np.ascontiguousarray(a, dtype=np.uint8)
    return rgb_to_nv12(a) if inp.format == "nv12" else a
