"""Read raw sensor frames from disk into a :class:`RawImage` (mosaic + CFA + levels + colour metadata).

Supported sources: 16-bit single-channel PNG mosaics (the MAI / Zurich datasets), headerless ``.raw`` /
``.bin`` dumps (geometry given by the user) and camera raw files through rawpy / LibRaw (DNG, NEF, CR2,
ARW, ...). Every problem a user can cause (wrong bit depth, wrong size, unsupported sensor) is a
one-line :class:`~isplab.errors.DataError`. Bayer packing itself lives in :mod:`isplab.raw.bayer`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from isplab.colorimetry import D50_XY, SRGB_TO_XYZ, XYZ_TO_SRGB, chromatic_adaptation, xy_to_xyz
from isplab.errors import DataError, first_line
from isplab.raw.bayer import CFA, MAI_WHITE_LEVEL, black_level_map, normalize_packed
from isplab.raw.dng import DngColour, balanced_to_xyz, read_dng_colour, shot_colour

if TYPE_CHECKING:
    from PIL import Image

#: Pillow modes of a 16-bit single-channel PNG (``I`` appears for some writers' 16-bit greyscale).
PIL_16BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})

#: Bradford D50 -> D65: the DNG's XYZ (D50) into sRGB's own white (so a balanced white is exactly (1, 1, 1)).
_D50_TO_D65 = chromatic_adaptation(xy_to_xyz(D50_XY), SRGB_TO_XYZ.sum(axis=1))


@dataclass
class RawImage:
    """One raw frame.

    ``mosaic`` is ``(H, W)`` (even sides) in sensor units; ``black_level`` a scalar or a per-photosite
    ``(H, W)`` map; colour metadata is optional: ``wb_gains`` the camera's as-shot ``(R, G, B)``
    multipliers with green 1 (``1 / neutral``), ``xyz_to_cam`` the 3x3 XYZ -> camera RGB matrix for the
    shot's light, ``forward_matrix`` the file's own white-balanced camera RGB -> XYZ (D50) where it has
    one (DNG ForwardMatrix, :mod:`isplab.raw.dng`), ``cam_to_srgb`` white-balanced camera RGB -> linear sRGB
    (:func:`isplab.raw.dng.balanced_to_xyz`, ``mixed``), ``baseline_exposure`` the file's exposure
    compensation in EV.
    """

    mosaic: np.ndarray
    cfa: CFA
    black_level: float | np.ndarray = 0.0
    white_level: float = MAI_WHITE_LEVEL
    wb_gains: np.ndarray | None = None
    xyz_to_cam: np.ndarray | None = None
    cam_to_srgb: np.ndarray | None = None
    path: Path | None = None
    forward_matrix: np.ndarray | None = None
    baseline_exposure: float = 0.0

    def __post_init__(self) -> None:
        self.cfa = CFA.parse(self.cfa)
        if self.mosaic.ndim != 2 or self.mosaic.shape[0] % 2 or self.mosaic.shape[1] % 2:
            raise ValueError(f"mosaic must be (H, W) with even sides, got {self.mosaic.shape}")
        black = np.asarray(self.black_level)
        if black.ndim and black.shape != self.mosaic.shape:
            raise ValueError(f"black level map {black.shape} does not match mosaic {self.mosaic.shape}")

    @property
    def shape(self) -> tuple[int, int]:
        return self.mosaic.shape

    def packed(self, clip: bool = False) -> np.ndarray:
        """Normalised packed float32 ``(4, H/2, W/2)``, canonical ``(B, G_r, R, G_b)`` order.

        Not clipped by default, so a dataset PNG gives the model exactly the input it gave in training
        (codes above the white level stay above 1, below the black level below 0); ``clip`` limits to [0, 1].
        """
        return normalize_packed(self.mosaic, self.cfa, self.black_level, self.white_level, clip=clip)


def cam_to_srgb(xyz_to_cam: np.ndarray, neutral: np.ndarray, forward_matrix: np.ndarray | None = None,
                method: str = "mixed") -> np.ndarray:
    """White-balanced camera RGB -> linear sRGB ``(3, 3)`` (:func:`isplab.raw.dng.balanced_to_xyz`, then D65)."""
    return XYZ_TO_SRGB @ _D50_TO_D65 @ balanced_to_xyz(xyz_to_cam, neutral, forward_matrix, method)


def _crop_even(array: np.ndarray) -> np.ndarray:
    # Cropping the far edges keeps the CFA phase of the top-left photosite.
    return array[: array.shape[0] // 2 * 2, : array.shape[1] // 2 * 2]


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(path, "file not found", "check the path")


# ---- 16-bit PNG mosaics -----------------------------------------------------------------------------


def read_png_mosaic(
    path: str | Path, cfa: CFA | str = CFA.RGGB, black: float = 0, white: float = MAI_WHITE_LEVEL
) -> RawImage:
    """A 16-bit single-channel PNG Bayer mosaic (the MAI / Zurich ``*_raw/<i>.png`` files).

    Odd edges are cropped. An 8-bit or multi-channel PNG or a truncated file is a :class:`DataError`.
    """
    path = Path(path)
    return RawImage(_crop_even(load_png_mosaic(path)), CFA.parse(cfa), black, white, path=path)


def check_png_mosaic_header(image: Image.Image, path: Path) -> None:
    """Raise :class:`DataError` unless the opened (not decoded) PNG is a 16-bit single-channel image."""
    if image.mode in PIL_16BIT_MODES:
        return
    if image.mode in ("L", "P", "1"):
        raise DataError(
            path,
            f"8-bit PNG (mode {image.mode}) where a 16-bit raw mosaic is expected",
            "export the raw mosaic as a 16-bit greyscale PNG without scaling to 8 bits",
        )
    raise DataError(
        path,
        f"{len(image.getbands())}-channel PNG (mode {image.mode}) where a 1-channel Bayer mosaic is expected",
        "pass the undemosaiced sensor data as a 16-bit greyscale PNG",
    )


def load_png_mosaic(path: Path) -> np.ndarray:
    """Decode a 16-bit single-channel PNG to a ``(H, W)`` uint16 array (no cropping)."""
    from PIL import Image  # only PNG mosaics need Pillow: a .raw or DNG development does not load it

    _require_file(path)
    try:
        with warnings.catch_warnings():  # frames above ~89 MP are ordinary sensors, not bombs
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                check_png_mosaic_header(image, path)
                array = np.asarray(image)
    except DataError:
        raise
    except Image.DecompressionBombError as exc:
        raise DataError(path, f"PNG too large to decode safely ({first_line(exc)[:120]})",
                        "split the frame into smaller files, or check that it is a real raw mosaic") from None
    except PermissionError:
        raise DataError(path, "cannot read this file (permission denied)", "fix its permissions") from None
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's errors for corrupt / truncated files
        raise DataError(path, f"cannot decode PNG ({exc})",
                        "the file is truncated or corrupt; re-export it") from None
    if array.dtype != np.uint16:
        if array.min() < 0 or array.max() > np.iinfo(np.uint16).max:
            raise DataError(path, "PNG values outside the 16-bit range", "export as a 16-bit greyscale PNG")
        array = array.astype(np.uint16)
    return array


# ---- headerless dumps -------------------------------------------------------------------------------


def read_headerless_raw(
    path: str | Path,
    width: int,
    height: int,
    bit_depth: int = 10,
    cfa: CFA | str = CFA.RGGB,
    endianness: str = "little",
    black: float = 0,
    white: float | None = None,
) -> RawImage:
    """A headerless dump of ``height`` x ``width`` samples, one per byte (<= 8 bits) or per 2 bytes.

    ``white`` defaults to ``2**bit_depth - 1``. Values above that range mean the geometry, bit depth or
    endianness is wrong and raise :class:`DataError`.
    """
    path = Path(path)
    _require_file(path)
    if not 1 <= bit_depth <= 16:
        raise DataError(path, f"bit depth {bit_depth} is not supported", "use a bit depth from 1 to 16")
    if endianness not in ("little", "big"):
        raise DataError(path, f"unknown endianness {endianness!r}", "use 'little' or 'big'")
    bytes_per_sample = 1 if bit_depth <= 8 else 2
    expected, actual = width * height * bytes_per_sample, path.stat().st_size
    if actual != expected:
        hint = ""
        if actual * 8 == width * height * bit_depth:
            hint = " (the size fits bit-packed samples, e.g. MIPI RAW10: unsupported, unpack to 16-bit)"
        raise DataError(
            path,
            f"file is {actual} bytes but {width}x{height} at {bytes_per_sample} byte(s) per sample "
            f"needs {expected} bytes{hint}",
            "check --width/--height/--bit-depth against the sensor's output format",
        )
    dtype = np.dtype("u1" if bytes_per_sample == 1 else "<u2" if endianness == "little" else ">u2")
    mosaic = np.fromfile(path, dtype=dtype).reshape(height, width).astype(np.uint16)
    max_code = 2**bit_depth - 1
    if mosaic.max() > max_code:
        raise DataError(
            path,
            f"values up to {int(mosaic.max())} exceed the {bit_depth}-bit range (max {max_code})",
            "check --bit-depth and --endianness",
        )
    white = max_code if white is None else white
    return RawImage(_crop_even(mosaic), CFA.parse(cfa), black, white, path=path)


# ---- camera raw files via rawpy ---------------------------------------------------------------------


def _colour_indices(color_desc: str) -> tuple[int, int, int]:
    """Index of the first R, G and B entry in LibRaw's colour description (e.g. ``'RGBG'`` -> (0, 1, 2))."""
    return tuple(color_desc.index(c) for c in "RGB")  # type: ignore[return-value]


def read_camera_raw(path: str | Path) -> RawImage:
    """A camera raw file (DNG, NEF, CR2, ARW, ...) through rawpy, with every level and matrix from metadata.

    The visible area is used, odd edges cropped; the black level is a per-photosite map when the
    channels differ. Non-Bayer sensors (X-Trans, Foveon, linear DNG) raise :class:`DataError`.
    """
    import rawpy  # imported lazily: only camera raws need LibRaw

    path = Path(path)
    _require_file(path)
    try:
        with rawpy.imread(str(path)) as raw:
            if raw.raw_type != rawpy.RawType.Flat or raw.raw_pattern is None:
                raise DataError(
                    path,
                    "not a single-plane mosaic (a demosaiced or linear raw)",
                    "isplab reads Bayer raws; use the camera's undemosaiced raw file",
                )
            pattern = np.asarray(raw.raw_pattern)
            color_desc = raw.color_desc.decode("ascii", "replace")
            if pattern.shape != (2, 2):
                raise DataError(
                    path,
                    f"the sensor's colour filter repeats every {pattern.shape[0]}x{pattern.shape[1]} pixels "
                    "(e.g. Fujifilm X-Trans), not a 2x2 Bayer pattern",
                    "use a Bayer sensor's raw, or convert to a Bayer DNG first",
                )
            colours = np.asarray(raw.raw_colors_visible)
            mosaic = np.array(raw.raw_image_visible, dtype=np.uint16)
            black_per_channel = np.asarray(raw.black_level_per_channel, dtype=np.float32)
            white = float(raw.white_level)
            camera_wb = np.asarray(raw.camera_whitebalance, dtype=np.float64)
            rgb_xyz = np.asarray(raw.rgb_xyz_matrix, dtype=np.float64)
    except DataError:
        raise
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise DataError(path, f"rawpy cannot read this file ({type(exc).__name__}: {exc})",
                        "check it is a complete camera raw file LibRaw supports") from None

    # The phase comes from the visible area's own top-left colours, so margins never shift it.
    letters = "".join(color_desc[i] for i in colours[:2, :2].ravel())
    if letters not in {c.value for c in CFA}:
        raise DataError(
            path,
            f"colour filter {letters!r} (colours {color_desc!r}) is not an RGGB-family Bayer pattern",
            "isplab supports RGGB, BGGR, GRBG and GBRG sensors",
        )
    mosaic, cfa = _crop_even(mosaic), CFA(letters)
    black: float | np.ndarray = float(black_per_channel[0])
    if np.ptp(black_per_channel[: len(color_desc)]) > 0:  # a per-photosite map from each channel's level
        black_bgrg = tuple(float(black_per_channel[colours[dy, dx]]) for dy, dx in cfa.offsets)
        black = black_level_map(mosaic.shape, cfa, black_bgrg)
    rgb_idx = list(_colour_indices(color_desc))
    wb = camera_wb[rgb_idx]
    as_shot = 1.0 / (wb / wb[1]) if wb[1] > 0 and np.all(wb > 0) else None
    colour = read_dng_colour(path) if path.suffix.lower() == ".dng" else None
    if colour is None and np.any(rgb_xyz[:3]):  # LibRaw's table: one D65 calibration (Adobe's matrices)
        colour = DngColour(colour_matrices=(rgb_xyz[rgb_idx],), illuminants=(21,), as_shot_neutral=as_shot)
    return with_colour(RawImage(mosaic, cfa, black, white, path=path), colour)


def with_colour(image: RawImage, colour: DngColour | None, neutral: np.ndarray | None = None) -> RawImage:
    """``image`` with the colour metadata of ``colour`` for its shot (``neutral`` overrides the as-shot
    one); ``colour`` ``None`` clears it."""
    if colour is None:
        return replace(image, wb_gains=None, xyz_to_cam=None, forward_matrix=None, cam_to_srgb=None,
                       baseline_exposure=0.0)
    shot = shot_colour(colour, neutral)
    return replace(image, wb_gains=1.0 / shot.neutral, xyz_to_cam=shot.xyz_to_camera,
                   forward_matrix=shot.forward_matrix,
                   cam_to_srgb=cam_to_srgb(shot.xyz_to_camera, shot.neutral, shot.forward_matrix),
                   baseline_exposure=shot.baseline_exposure)


# ---- dispatch ---------------------------------------------------------------------------------------

HEADERLESS_SUFFIXES = frozenset({".raw", ".bin"})


def read_raw(path: str | Path, **options: object) -> RawImage:
    """Read any supported raw file, dispatching on the suffix.

    ``.png`` -> :func:`read_png_mosaic` (options ``cfa``, ``black``, ``white``); ``.raw`` / ``.bin`` ->
    :func:`read_headerless_raw` (needs ``width`` and ``height``); anything else -> :func:`read_camera_raw`,
    which reads its geometry from the file and takes no options. ``None`` options are ignored.
    """
    path = Path(path)
    image = _read_any(path, {k: v for k, v in options.items() if v is not None})
    if min(image.shape) < 2:
        h, w = image.shape
        raise DataError(path, f"the frame is {h}x{w} photosites (after cropping to even sides), too small to "
                        "develop", "pass a raw frame of at least 2x2 photosites (one Bayer quad)")
    return image


def _read_any(path: Path, options: dict[str, object]) -> RawImage:
    suffix = path.suffix.lower()
    if suffix == ".png":
        return read_png_mosaic(path, **_only(path, options, {"cfa", "black", "white"}))
    if suffix in HEADERLESS_SUFFIXES:
        missing = [k for k in ("width", "height") if k not in options]
        if missing:
            raise DataError(
                path,
                f"a headerless raw has no geometry and {' and '.join(missing)} was not given",
                "pass width and height (and bit depth, CFA, endianness unless 10-bit little-endian RGGB)",
            )
        allowed = {"width", "height", "bit_depth", "cfa", "endianness", "black", "white"}
        return read_headerless_raw(path, **_only(path, options, allowed))
    _only(path, options, set())
    return read_camera_raw(path)


def _only(path: Path, options: dict[str, object], allowed: set[str]) -> dict[str, object]:
    extra = sorted(set(options) - allowed)
    if extra:
        what = f"a {path.suffix or 'suffix-less'} file"
        raise DataError(
            path,
            f"option(s) {', '.join(extra)} do not apply to {what}",
            "camera raws describe themselves; geometry options are for .raw/.bin dumps",
        )
    return options
