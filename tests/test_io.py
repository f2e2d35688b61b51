"""Image and mask I/O: formats, conversions, and every bad input, through the API."""

from __future__ import annotations

import io as _io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from holefill import io
from holefill.errors import (
    CorruptImageError,
    EmptyFileError,
    EmptyMaskWarning,
    FullMaskError,
    HolefillError,
    ImageTooLargeError,
    InputNotFoundError,
    MaskSizeError,
    NotAnImageError,
    OutputExistsError,
)


def _save(img: Image.Image, path: Path, **kw) -> Path:
    img.save(path, **kw)
    return path


@pytest.mark.parametrize("ext,fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP"), (".bmp", "BMP"), (".tif", "TIFF")])
def test_reads_every_format_as_rgb_uint8(tmp_path, photo, ext, fmt):
    path = _save(Image.fromarray(photo), tmp_path / f"p{ext}", format=fmt, **({"quality": 98} if fmt in ("JPEG", "WEBP") else {}))
    out = io.read_image(path)
    assert out.dtype == np.uint8 and out.shape == photo.shape
    lossy = fmt in ("JPEG", "WEBP")
    assert np.abs(out.astype(int) - photo).mean() < (4 if lossy else 1e-9)


def test_type_is_read_from_content_not_name(tmp_path, photo):
    path = _save(Image.fromarray(photo), tmp_path / "really_a_png.jpg", format="PNG")
    assert np.array_equal(io.read_image(path), photo)


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    arr[:, :10] = 255  # a white band on the left
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif, quality=95)
    out = io.read_image(path)
    assert out.shape == (40, 20, 3)
    assert out[:10].mean() > 200 and out[-10:].mean() < 50  # the band is now on top


def test_grayscale_palette_cmyk_become_rgb(tmp_path, photo):
    gray = Image.fromarray(photo).convert("L")
    g = io.read_image(_save(gray, tmp_path / "g.png"))
    assert g.shape == photo.shape and np.array_equal(g[..., 0], np.asarray(gray)) and np.array_equal(g[..., 0], g[..., 2])
    pal = Image.fromarray(photo).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    p = io.read_image(_save(pal, tmp_path / "p.png"))
    assert np.array_equal(p, np.asarray(pal.convert("RGB")))
    cmyk = Image.fromarray(photo).convert("CMYK")
    c = io.read_image(_save(cmyk, tmp_path / "c.tif"))
    assert np.array_equal(c, np.asarray(cmyk.convert("RGB")))


def test_16_bit_images_are_scaled_to_8_bit(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 48).reshape(48, 64).astype(np.uint16)
    path = tmp_path / "g16.png"
    Image.fromarray(ramp).save(path)
    out = io.read_image(path)
    expected = np.rint(ramp / 257.0).astype(np.uint8)
    assert out.dtype == np.uint8
    assert np.abs(out[..., 0].astype(int) - expected).max() <= 1
    import cv2

    rgb16 = np.stack([ramp, ramp[::-1], np.full_like(ramp, 30000)], axis=2)
    p2 = tmp_path / "rgb16.png"
    cv2.imwrite(str(p2), rgb16[..., ::-1])  # cv2 writes BGR
    out2 = io.read_image(p2)
    assert np.abs(out2.astype(int) - np.rint(rgb16 / 257.0)).max() <= 1


def test_rgba_is_composited_over_white_and_alpha_can_be_the_mask(tmp_path):
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    rgba[2:5, 3:7, 3] = 0  # transparent hole
    rgba[6, 6, 3] = 128  # half transparent: not a hole (>= 50 %)
    path = _save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png")
    img, hole = io.read_image_with_alpha(path)
    assert np.array_equal(img[2:5, 3:7], np.full((3, 4, 3), 255))
    assert tuple(img[0, 0]) == (200, 0, 0)
    expected = np.zeros((10, 12), bool)
    expected[2:5, 3:7] = True
    assert np.array_equal(hole, expected)
    assert io.read_image_with_alpha(_save(Image.fromarray(rgba[..., :3]), tmp_path / "b.png"))[1] is None


def test_mask_modes_and_threshold(tmp_path):
    truth = np.zeros((32, 40), bool)
    truth[8:20, 10:30] = True
    gray = truth.astype(np.uint8) * 255
    assert np.array_equal(io.read_mask(_save(Image.fromarray(gray), tmp_path / "m.png")), truth)
    # 0/1 label images count their 1s
    assert np.array_equal(io.read_mask(_save(Image.fromarray(truth.astype(np.uint8)), tmp_path / "m01.png")), truth)
    # bilevel
    assert np.array_equal(io.read_mask(_save(Image.fromarray(gray).convert("1"), tmp_path / "m1.png")), truth)
    # a red brush stroke in an RGB mask counts as hole
    rgb = np.zeros((32, 40, 3), np.uint8)
    rgb[truth] = (255, 0, 0)
    assert np.array_equal(io.read_mask(_save(Image.fromarray(rgb), tmp_path / "mr.png")), truth)
    # JPEG noise around the edges does not matter
    noisy = io.read_mask(_save(Image.fromarray(gray), tmp_path / "mj.jpg", quality=60))
    assert (noisy != truth).sum() <= 0.02 * truth.size
    # transparent pixels are never holes
    rgba = np.zeros((32, 40, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = truth * 255
    assert np.array_equal(io.read_mask(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "ma.png")), truth)
    # 16-bit masks threshold at half of their range
    m16 = (truth * 40000).astype(np.uint16)
    assert np.array_equal(io.read_mask(_save(Image.fromarray(m16), tmp_path / "m16.png")), truth)


def test_mask_size_mismatch_and_nearest_resize(tmp_path):
    small = np.zeros((16, 20), np.uint8)
    small[4:8, 5:10] = 255
    path = _save(Image.fromarray(small), tmp_path / "m.png")
    with pytest.raises(MaskSizeError) as exc:
        io.read_mask(path, shape=(32, 40))
    assert str(path) in str(exc.value) and "20x16" in str(exc.value) and "40x32" in str(exc.value)
    big = io.read_mask(path, shape=(32, 40), resize=True)
    assert big.shape == (32, 40) and big.sum() == 4 * small.astype(bool).sum()
    assert big[8:16, 10:20].all()


@pytest.mark.parametrize("case", ["missing", "folder", "text", "empty", "truncated", "corrupt", "gif"])
def test_bad_files_raise_one_line_errors_naming_the_file(tmp_path, photo, case):
    path = tmp_path / "bad.png"
    expected: type[HolefillError]
    if case == "missing":
        expected = InputNotFoundError
    elif case == "folder":
        path.mkdir()
        expected = NotAnImageError
    elif case == "text":
        path.write_text("hello, I am not a picture\n")
        expected = NotAnImageError
    elif case == "empty":
        path.write_bytes(b"")
        expected = EmptyFileError
    elif case == "truncated":
        buf = _io.BytesIO()
        Image.fromarray(photo).save(buf, format="PNG")
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        expected = CorruptImageError
    elif case == "corrupt":
        buf = _io.BytesIO()
        Image.fromarray(photo).save(buf, format="PNG")
        data = bytearray(buf.getvalue())
        data[60:400] = b"\x00" * 340  # wipe part of the IDAT stream
        path.write_bytes(bytes(data))
        expected = CorruptImageError
    else:
        Image.fromarray(photo).save(path, format="GIF")
        expected = NotAnImageError
    for reader in (io.read_image, io.read_mask):
        with pytest.raises(expected) as exc:
            reader(path)
        msg = str(exc.value)
        assert msg.startswith(str(path)) and "\n" not in msg


def test_truncated_jpeg_is_an_error(tmp_path, photo):
    buf = _io.BytesIO()
    Image.fromarray(photo).save(buf, format="JPEG")
    path = tmp_path / "t.jpg"
    path.write_bytes(buf.getvalue()[:-400])
    with pytest.raises(CorruptImageError, match="truncated"):
        io.read_image(path)


def test_pixel_limit_guards_against_decompression_bombs(tmp_path, photo, monkeypatch):
    path = _save(Image.fromarray(photo), tmp_path / "p.png")
    with pytest.raises(ImageTooLargeError, match="limit"):
        io.read_image(path, max_pixels=1000)
    monkeypatch.setenv("HOLEFILL_MAX_PIXELS", "1000")
    with pytest.raises(ImageTooLargeError):
        io.read_image(path)
    monkeypatch.setenv("HOLEFILL_MAX_PIXELS", str(photo.shape[0] * photo.shape[1]))
    assert io.read_image(path).shape == photo.shape


def test_bytes_sources_work_like_files(photo):
    buf = _io.BytesIO()
    Image.fromarray(photo).save(buf, format="PNG")
    assert np.array_equal(io.read_image(buf.getvalue(), name="upload.png"), photo)
    with pytest.raises(EmptyFileError, match="upload"):
        io.read_image(b"", name="upload")
    with pytest.raises(NotAnImageError):
        io.read_image(b"GIF89a not really", name="x")


def test_check_mask_empty_warns_and_full_fails(photo):
    shape = photo.shape[:2]
    with pytest.warns(EmptyMaskWarning):
        io.check_mask(np.zeros(shape, bool), shape)
    with pytest.raises(FullMaskError):
        io.check_mask(np.ones(shape, bool), shape, name="m.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert io.check_mask(np.ones(shape, bool), shape, needs_context=False).all()
    with pytest.raises(MaskSizeError):
        io.check_mask(np.zeros((3, 3), bool), shape)


def test_write_is_atomic_and_never_overwrites_unasked(tmp_path, photo, monkeypatch):
    out = tmp_path / "sub" / "o.png"
    io.write_image(out, photo)
    assert np.array_equal(io.read_image(out), photo)
    before = out.read_bytes()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        io.write_image(out, photo[::-1].copy())
    assert out.read_bytes() == before
    io.write_image(out, photo[::-1].copy(), overwrite=True)
    assert np.array_equal(io.read_image(out), photo[::-1])

    # An input named as output is refused even before anything else.
    src = _save(Image.fromarray(photo), tmp_path / "in.png")
    with pytest.raises(OutputExistsError, match="input"):
        io.write_image(src, photo, inputs=[src])

    # A failure mid-write leaves the old file intact and no temporary file behind.
    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(HolefillError, match="cannot be written .disk full"):
        io.write_image(out, photo, overwrite=True)
    assert np.array_equal(io.read_image(out), photo[::-1])
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.png"]


def test_unknown_output_extension_is_refused(tmp_path, photo):
    with pytest.raises(HolefillError, match="extension"):
        io.write_image(tmp_path / "o.xyz", photo)


def test_check_image_rejects_bad_arrays():
    with pytest.raises(HolefillError, match="uint8"):
        io.check_image(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(HolefillError, match="HxWx3"):
        io.check_image(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(HolefillError, match="numpy"):
        io.check_image([[1, 2], [3, 4]])  # type: ignore[arg-type]
    assert io.check_image(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
