"""Write a developed picture atomically: 8-bit PNG, 16-bit PNG or JPEG, with the settings embedded.

Metadata: PNG ``tEXt`` chunks (``Software``, ``Description`` and one per setting) or a JPEG comment,
plus the EXIF orientation of the source when it has one (a camera raw shot in portrait). The file is
written to a temporary name beside the target and renamed (:func:`isplab.atomic.write_atomic`), so a
failure never leaves half a picture. Pillow cannot write 16-bit RGB, so ``png16`` is encoded here
(zlib + the PNG chunk layout; small and dependency-free).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, PngImagePlugin

from isplab.atomic import write_atomic
from isplab.errors import IsplabError

#: EXIF tag of the orientation (1 = as stored; 3, 6, 8 = rotate 180 / 90 CW / 90 CCW to display).
EXIF_ORIENTATION = 0x0112
#: LibRaw ``sizes.flip`` -> EXIF orientation.
LIBRAW_FLIP_TO_EXIF = {0: 1, 3: 3, 5: 8, 6: 6}


def _quantize(rgb: np.ndarray, bits: int, rows: int = 256) -> np.ndarray:
    """``(3, H, W)`` float (clipped to [0, 1]) -> contiguous ``(H, W, 3)`` uint8 / uint16.

    Done in bands of ``rows`` so the float temporaries stay small next to a 12 MP frame.
    """
    peak = 2**bits - 1
    out = np.empty((rgb.shape[1], rgb.shape[2], 3), dtype=np.uint8 if bits == 8 else np.uint16)
    for y in range(0, rgb.shape[1], rows):
        band = np.clip(rgb[:, y:y + rows], 0.0, 1.0).transpose(1, 2, 0) * peak + 0.5
        out[y:y + rows] = band.astype(out.dtype)
    return out


def _exif_bytes(orientation: int | None) -> bytes | None:
    if orientation in (None, 1):
        return None
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = int(orientation)
    return exif.tobytes()


def _save_png8(f: IO[bytes], rgb: np.ndarray, meta: Mapping[str, str], orientation: int | None, _q: int) -> None:
    info = PngImagePlugin.PngInfo()
    for key, value in meta.items():
        info.add_text(key, value)
    exif = _exif_bytes(orientation)
    Image.fromarray(_quantize(rgb, 8)).save(f, format="PNG", pnginfo=info, **({"exif": exif} if exif else {}))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _save_png16(f: IO[bytes], rgb: np.ndarray, meta: Mapping[str, str], orientation: int | None, _q: int) -> None:
    pixels = _quantize(rgb, 16)
    h, w = pixels.shape[:2]
    # Scanlines = filter byte 0 ("None") + big-endian samples, compressed band by band to bound memory.
    compressor, parts = zlib.compressobj(6), []
    for y in range(0, h, 256):
        band = pixels[y:y + 256]
        rows = np.zeros((band.shape[0], 1 + w * 6), dtype=np.uint8)
        rows[:, 1:] = band.astype(">u2").view(np.uint8).reshape(band.shape[0], w * 6)
        parts.append(compressor.compress(rows.tobytes()))
    parts.append(compressor.flush())
    f.write(b"\x89PNG\r\n\x1a\n")
    f.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)))  # 16-bit truecolour
    for key, value in meta.items():
        f.write(_chunk(b"tEXt", key.encode("latin-1", "replace") + b"\0" + value.encode("latin-1", "replace")))
    exif = _exif_bytes(orientation)
    if exif:
        f.write(_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif))
    f.write(_chunk(b"IDAT", b"".join(parts)))
    f.write(_chunk(b"IEND", b""))


def _save_jpg(f: IO[bytes], rgb: np.ndarray, meta: Mapping[str, str], orientation: int | None, quality: int
              ) -> None:
    comment = "; ".join(f"{k}: {v}" for k, v in meta.items())
    exif = _exif_bytes(orientation)
    Image.fromarray(_quantize(rgb, 8)).save(f, format="JPEG", quality=quality, comment=comment.encode("utf-8"),
                                            **({"exif": exif} if exif else {}))


#: format name -> (file suffix, encoder ``(file, rgb, metadata, orientation, quality)``)
FORMATS: dict[str, tuple[str, Callable[..., None]]] = {
    "png": (".png", _save_png8),
    "png16": (".png", _save_png16),
    "jpg": (".jpg", _save_jpg),
}


def write_image(path: str | Path, rgb: np.ndarray, fmt: str = "png", metadata: Mapping[str, str] | None = None,
                orientation: int | None = None, quality: int = 90) -> Path:
    """Write ``rgb`` ``(3, H, W)`` float (clipped to [0, 1]) to ``path`` atomically in format ``fmt``."""
    if fmt not in FORMATS:
        raise IsplabError(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}")
    if rgb.ndim != 3 or rgb.shape[0] != 3:
        raise ValueError(f"expected an RGB image (3, H, W), got shape {rgb.shape}")
    encode = FORMATS[fmt][1]
    meta = dict(metadata or {})
    return write_atomic(path, lambda f: encode(f, rgb, meta, orientation, quality))


def source_orientation(path: str | Path) -> int | None:
    """EXIF orientation of a camera raw file via LibRaw's ``flip`` (None for mosaics or unreadable files)."""
    path = Path(path)
    if path.suffix.lower() in (".png", ".raw", ".bin"):
        return None
    try:
        import rawpy

        with rawpy.imread(str(path)) as raw:
            return LIBRAW_FLIP_TO_EXIF.get(int(raw.sizes.flip))
    except Exception:  # orientation is optional metadata: never fail a development over it
        return None
