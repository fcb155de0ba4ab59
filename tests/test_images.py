"""Photos as users have them: decoding (Pillow), channels, resize + center crop, NV12."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from mbdsl import frontend, passes
from mbdsl.cli import main
from mbdsl.errors import MbdslError
from mbdsl.images import read_image
from mbdsl.semantics import nv12_to_rgb, rgb_to_nv12
from mbdsl.spec_writer import write_spec


def net_input(size="16x16x3", fmt="u8", block=""):
    text = f"network n {{ input {size} {fmt} {block}\n conv c0 3x3 -> 4\n fc -> 3 }}"
    return passes.check(frontend.load_string(text, "n.mbn")).input


def photo(h, w, c=3, seed=0):
    a = np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)
    return a[:, :, 0] if c == 1 else a


def save(tmp_path, array, name, mode=None):
    path = tmp_path / name
    Image.fromarray(array, mode).save(path)
    return str(path)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".ppm", ".tiff"])
def test_lossless_formats_decode_to_the_stored_pixels(tmp_path, suffix):
    a = photo(16, 16)
    assert np.array_equal(read_image(save(tmp_path, a, "p" + suffix), net_input()), a)


def test_jpeg_decodes_close_to_the_stored_pixels(tmp_path):
    a = np.full((16, 16, 3), (200, 40, 90), dtype=np.uint8)
    got = read_image(save(tmp_path, a, "p.jpg"), net_input())
    assert got.shape == (16, 16, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - a).max() <= 3


def test_npy_of_the_exact_shape_is_taken_as_is(tmp_path):
    a = photo(16, 16)
    np.save(tmp_path / "a.npy", a)
    assert np.array_equal(read_image(str(tmp_path / "a.npy"), net_input()), a)


def test_gray_photo_is_replicated_and_alpha_dropped(tmp_path):
    g = photo(16, 16, 1)
    got = read_image(save(tmp_path, g, "g.png"), net_input())
    assert np.array_equal(got, np.repeat(g[:, :, None], 3, axis=2))
    rgba = photo(16, 16, 4)
    rgba[..., 3] = np.arange(16)[None, :] * 16  # partly transparent: colors are kept as stored
    got = read_image(save(tmp_path, rgba, "a.png"), net_input())
    assert np.array_equal(got, rgba[..., :3])


def test_rgb_photo_into_a_one_channel_network_is_its_luma(tmp_path):
    a = photo(16, 16)
    got = read_image(save(tmp_path, a, "c.png"), net_input("16x16x1"))
    r, g, b = a.astype(int).transpose(2, 0, 1)
    luma = (299 * r + 587 * g + 114 * b) / 1000
    assert got.shape == (16, 16, 1)
    assert np.abs(got[..., 0] - luma).max() <= 1


def test_resize_then_center_crop_follows_torchvision(tmp_path):
    inp = net_input("16x16x3", block="{ resize 20 }")
    # Already at the resized size (shorter side 20): only the crop applies. Width
    # int(20 * 30 / 20) = 30, left = round((30 - 16) / 2) = 7, top = round((20 - 16) / 2) = 2.
    a = photo(20, 30)
    assert np.array_equal(read_image(save(tmp_path, a, "w.png"), inp), a[2:18, 7:23])
    # Portrait: the crop moves down the rows.
    a = photo(31, 20, seed=1)
    top = round((31 - 16) / 2)
    assert np.array_equal(read_image(save(tmp_path, a, "t.png"), inp), a[top : top + 16, 2:18])
    # A 40x60 photo: resized to 20x30 with Pillow's bilinear filter (torchvision's for PIL
    # images), then cropped as above.
    big = photo(40, 60, seed=2)
    want = np.asarray(Image.fromarray(big).resize((30, 20), Image.Resampling.BILINEAR))[2:18, 7:23]
    assert np.array_equal(read_image(save(tmp_path, big, "b.png"), inp), want)
    # A linear ramp stays a ramp: columns of the 2x upscaled photo keep their order.
    ramp = np.repeat(np.repeat(np.arange(0, 200, 20, dtype=np.uint8)[None, :, None], 10, axis=0), 3, axis=2)
    got = read_image(save(tmp_path, ramp, "r.png"), inp).astype(int)
    assert np.all(np.diff(got[0, :, 0]) >= 0) and got[0, -1, 0] > got[0, 0, 0]
    # Any size of a uniform photo gives the uniform input.
    flat = np.full((77, 53, 3), (12, 200, 99), dtype=np.uint8)
    assert np.array_equal(read_image(save(tmp_path, flat, "f.png"), inp), flat[:16, :16])


def test_resize_is_written_back_by_the_spec_writer(tmp_path):
    text = "network n { input 16x16x3 u8 { scale 1/255; resize 20 }\n conv c0 3x3 -> 4\n fc -> 3 }"
    net = passes.check(frontend.load_string(text, "n.mbn"))
    out = tmp_path / "again.mbn"
    out.write_text(write_spec(net, path=str(out)))
    assert passes.check(frontend.load(str(out))).input == net.input
    assert net.input.resize == 20


def test_rgb_to_nv12_known_colors():
    # BT.601 limited range: black is Y 16, white Y 235, gray has neutral chroma 128.
    for rgb, y in (((0, 0, 0), 16), ((255, 255, 255), 235)):
        frame = rgb_to_nv12(np.full((2, 2, 3), rgb, dtype=np.uint8))
        assert frame.tolist() == [y] * 4 + [128, 128]
    red = rgb_to_nv12(np.full((2, 2, 3), (255, 0, 0), dtype=np.uint8))
    assert red[4] < 128 < red[5]  # U below neutral, V above: red


def test_nv12_conversion_both_ways():
    rng = np.random.default_rng(3)
    blocks = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    rgb = np.repeat(np.repeat(blocks, 2, axis=0), 2, axis=1)  # one color per 2x2 chroma block
    h, w = rgb.shape[:2]

    def to_rgb(frame):
        return nv12_to_rgb(frame[: h * w].reshape(h, w), frame[h * w :].reshape(h // 2, w // 2, 2))

    frame = rgb_to_nv12(rgb)
    back = to_rgb(frame)
    assert np.abs(back.astype(int) - rgb).max() <= 2  # RGB -> NV12 -> RGB: 8-bit rounding only
    again = rgb_to_nv12(back)
    assert np.abs(again.astype(int) - frame).max() <= 1  # NV12 -> RGB -> NV12
    assert np.mean(again == frame) > 0.9


def test_photo_into_an_nv12_network_is_converted(tmp_path):
    inp = net_input("16x16", "nv12")
    a = photo(16, 16, seed=4)
    got = read_image(save(tmp_path, a, "p.png"), inp)
    assert np.array_equal(got, rgb_to_nv12(a))
    raw = tmp_path / "f.nv12"
    got.tofile(raw)
    assert np.array_equal(read_image(str(raw), inp), got)


def error_of(path, inp):
    with pytest.raises(MbdslError) as info:
        read_image(path, inp)
    return info.value


def test_a_file_that_is_not_an_image_is_an_error(tmp_path):
    bad = tmp_path / "bytes.png"
    bad.write_bytes(bytes(range(256)) * 3)  # exactly 16x16x3 bytes: once taken as raw pixels
    e = error_of(str(bad), net_input())
    assert re.fullmatch(r"image .*bytes\.png: not an image file that Pillow can decode", e.message)
    assert "PNG, JPEG, BMP or PPM" in e.hint


def test_wrong_size_without_resize_is_an_error(tmp_path):
    e = error_of(save(tmp_path, photo(20, 16), "p.png"), net_input())
    assert re.fullmatch(r"image .*p\.png: is 20x16 \(HxW\); the network's input is exactly 16x16", e.message)
    assert "resize 18" in e.hint


def test_channels_first_npy_is_an_error(tmp_path):
    np.save(tmp_path / "chw.npy", photo(16, 16).transpose(2, 0, 1).copy())
    e = error_of(str(tmp_path / "chw.npy"), net_input())
    assert "looks channels-first (C, H, W)" in e.message and "transpose" in e.hint


def test_raw_bytes_for_a_u8_network_are_an_error(tmp_path):
    (tmp_path / "x.nv12").write_bytes(bytes(16 * 16 * 3))
    assert "the network takes no raw frames" in error_of(str(tmp_path / "x.nv12"), net_input()).message


def test_16_bit_images_are_an_error(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.full((16, 16), 40000, dtype=np.uint16)).save(path)
    assert "only 8-bit images are read" in error_of(str(path), net_input()).message


def test_cli_run_on_a_photo_and_on_a_non_image(tmp_path, capsys):
    spec = tmp_path / "n.mbn"
    spec.write_text("network n { input 16x16x3 u8 { resize 18 }\n conv c0 3x3 -> 4\n fc -> 3 }")
    good = save(tmp_path, photo(40, 24), "ok.jpg")
    assert main(["run", str(spec), "--image", good]) == 0
    assert "ok.jpg: output" in capsys.readouterr().out
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture\n")
    assert main(["run", str(spec), "--image", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.fullmatch(r"error: image .*notes\.png: not an image file that Pillow can decode", err[0])
