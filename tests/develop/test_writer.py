"""Output files (isplab.develop.writer): formats, embedded settings, orientation, band-by-band encoding,
atomic writes."""

from __future__ import annotations

import importlib.util
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from isplab.develop import writer
from isplab.develop.writer import EXIF_ORIENTATION, open_image, write_image
from isplab.errors import IsplabError


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).uniform(-0.1, 1.1, (3, 6, 10)).astype(np.float32)


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def test_png8_and_jpg_carry_settings(tmp_path, rgb):
    meta = {"isplab.model": "smallnet", "isplab.settings": "tile=512 overlap=32"}
    png = write_image(tmp_path / "a.png", rgb, "png", meta)
    with Image.open(png) as im:
        assert im.mode == "RGB" and im.size == (10, 6) and im.text["isplab.model"] == "smallnet"
        expected = (np.clip(rgb, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)
        np.testing.assert_array_equal(np.asarray(im), expected)
    jpg = write_image(tmp_path / "a.jpg", rgb, "jpg", meta, quality=80)
    with Image.open(jpg) as im:
        assert b"smallnet" in im.info["comment"] and b"tile=512" in im.info["comment"]


def _unfilter(idat: bytes, height: int, row_bytes: int) -> np.ndarray:
    """Scanlines of "None" (0) or "Up" (2) filtered rows -> raw bytes ``(height, row_bytes)``."""
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + row_bytes)
    out, above = np.zeros((height, row_bytes), np.uint8), np.zeros(row_bytes, np.uint8)
    for y in range(height):
        assert rows[y, 0] in (0, 2)
        out[y] = rows[y, 1:] + (above if rows[y, 0] == 2 else 0)
        above = out[y]
    return out


def test_png16_round_trips_exactly(tmp_path, rgb):
    path = write_image(tmp_path / "b.png", rgb, "png16", {"isplab.model": "m"}, orientation=6)
    chunks = _png_chunks(path.read_bytes())
    header = dict(chunks)
    w, h, depth, colour = struct.unpack(">IIBB", header[b"IHDR"][:10])
    assert (w, h, depth, colour) == (10, 6, 16, 2)
    assert header[b"tEXt"] == b"isplab.model\0m"
    idat = b"".join(body for kind, body in chunks if kind == b"IDAT")
    pixels = _unfilter(idat, 6, 60).view(">u2").reshape(6, 10, 3)
    expected = (np.clip(rgb, 0, 1).transpose(1, 2, 0) * 65535 + 0.5).astype(np.uint16)
    np.testing.assert_array_equal(pixels, expected)
    assert b"eXIf" in header
    with Image.open(path) as im:  # Pillow reads it (as 8-bit) and sees the orientation
        assert im.size == (10, 6) and im.getexif()[EXIF_ORIENTATION] == 6


@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_orientation_is_written(tmp_path, rgb, fmt):
    path = write_image(tmp_path / f"o.{fmt}", rgb, fmt, orientation=8)
    with Image.open(path) as im:
        assert im.getexif()[EXIF_ORIENTATION] == 8


def test_failed_write_leaves_nothing_behind(tmp_path, rgb, monkeypatch):
    target = tmp_path / "c.png"
    target.write_bytes(b"old picture")

    def half_then_fail(self, f):
        f.write(b"\x89PNG half a file")
        raise OSError("disk full")

    monkeypatch.setattr(writer.PngWriter, "_finish", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        write_image(target, rgb, "png")
    assert target.read_bytes() == b"old picture"  # the old file is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png"]  # no temporary left
    with pytest.raises(OSError):
        write_image(tmp_path / "new.png", rgb, "png")
    assert not (tmp_path / "new.png").exists()


def test_unknown_format(tmp_path, rgb):
    with pytest.raises(IsplabError, match="png16"):
        write_image(tmp_path / "x.tif", rgb, "tiff")


@pytest.mark.parametrize("fmt", ["png", "png16", "jpg"])
def test_bands_give_the_same_file_as_one_frame(tmp_path, fmt):
    rgb = np.random.default_rng(1).uniform(0, 1, (3, 37, 23)).astype(np.float32)
    whole = write_image(tmp_path / f"whole.{fmt}", rgb, fmt, {"k": "v"})
    streamed = open_image(tmp_path / f"bands.{fmt}", (37, 23), fmt, {"k": "v"})
    for y0, y1 in [(0, 5), (5, 6), (6, 30), (30, 37)]:
        streamed.write(rgb[:, y0:y1].transpose(1, 2, 0))  # bands are channels last
    with Image.open(streamed.close()) as a, Image.open(whole) as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_picture_must_be_written_in_full(tmp_path, rgb):
    partial = open_image(tmp_path / "p.png", (6, 10))
    partial.write(rgb[:, :4].transpose(1, 2, 0))
    with pytest.raises(ValueError, match="4 of 6 rows"):
        partial.close()
    with pytest.raises(ValueError, match="more than 6 rows"):
        partial.write(rgb.transpose(1, 2, 0))
    assert not (tmp_path / "p.png").exists()


def test_fast_and_portable_deflate_write_the_same_picture(tmp_path, monkeypatch):
    """ISA-L (when installed) and the zlib fallback both write standard PNGs of identical pixels."""
    if importlib.util.find_spec("isal") is not None:
        assert type(writer.deflater()).__module__.startswith("isal")
    rgb = np.random.default_rng(2).uniform(0, 1, (3, 40, 30)).astype(np.float32)
    fast = write_image(tmp_path / "fast.png", rgb)
    monkeypatch.setattr(writer, "deflater", lambda: zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_RLE))
    portable = write_image(tmp_path / "portable.png", rgb)
    assert fast.read_bytes() != portable.read_bytes() or importlib.util.find_spec("isal") is None
    with Image.open(fast) as a, Image.open(portable) as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
