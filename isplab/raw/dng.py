"""A DNG's colour metadata, read from its tags, and the DNG specification's camera -> XYZ mapping.

LibRaw (rawpy) leaves ``rgb_xyz_matrix`` at zero for DNGs it has no table entry for and never exposes
ColorMatrix2, ForwardMatrix, CameraCalibration, AnalogBalance or BaselineExposure, so the tags are read
here with tifffile, once. :func:`shot_colour` then follows the DNG specification (1.6, chapter 6, "Mapping
Camera Color Space to CIE XYZ Space"):

1. ``XYZtoCamera = AnalogBalance @ CameraCalibration @ ColorMatrix``, each calibration interpolated between
   the two illuminants linearly in inverse correlated colour temperature of the shot's white;
2. the shot's white: ``AsShotWhiteXY``, or the chromaticity whose camera neutral is ``AsShotNeutral``,
   found by iterating (1) to convergence;
3. camera -> XYZ (D50): with ForwardMatrix ``FM @ diag(1 / ReferenceNeutral) @ inv(AB @ CC)``, else
   ``Bradford(white -> D50) @ inv(XYZtoCamera)``.

Without a ForwardMatrix, :func:`balanced_to_xyz` offers two more estimates of step 3 (:data:`COLOUR_METHODS`):
``camera``, white balance in camera space followed by the matrix as calibrated for D65 (what LibRaw/dcraw
and most phone pipelines do: a forward matrix derived from ``ColorMatrix``), and ``mixed``, the mean of the
two. On simulated spectral cameras (32 sensors x 12 illuminants, ColorChecker, benchmarks/colour_checker.py)
the specification's Bradford path is better under tungsten light and the camera-space path under some
fluorescent lights; their mean is rarely worse than either (docs/camera.md).

Matrices are ``(3, 3)`` numpy float64; camera channels are ``(R, G, B)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isplab.colorimetry import D50_XY, D65_XY, chromatic_adaptation, xy_to_cct, xy_to_xyz, xyz_to_xy
from isplab.errors import DataError

# TIFF/DNG tag codes.
_COLOR_MATRIX = (50721, 50722)
_CAMERA_CALIBRATION = (50723, 50724)
_FORWARD_MATRIX = (50964, 50965)
_CALIBRATION_ILLUMINANT = (50778, 50779)
_ANALOG_BALANCE, _AS_SHOT_NEUTRAL, _AS_SHOT_WHITE_XY, _BASELINE_EXPOSURE = 50727, 50728, 50729, 50730

#: Correlated colour temperatures of the EXIF LightSource codes a DNG calibration names (the DNG SDK's).
ILLUMINANT_TEMPERATURE: dict[int, float] = {
    1: 5500, 2: (3800 + 4500) / 2, 3: 2850, 4: 5500, 9: 5500, 10: 6500, 11: 7500, 12: (5700 + 7100) / 2,
    13: (4600 + 5500) / 2, 14: (3800 + 4500) / 2, 15: (3250 + 3800) / 2, 16: (2600 + 3250) / 2, 17: 2850,
    18: 5500, 19: 6500, 20: 5500, 21: 6500, 22: 7500, 23: 5000, 24: 3200,
}

_MAX_ITERATIONS = 30

#: Estimates of white-balanced camera RGB -> XYZ (D50) for files without a ForwardMatrix (:func:`balanced_to_xyz`).
COLOUR_METHODS = ("mixed", "dng", "camera")


@dataclass(frozen=True)
class DngColour:
    """The colour tags of a DNG as stored (absent ones ``None``; matrices ``(3, 3)``, one per calibration)."""

    colour_matrices: tuple[np.ndarray, ...]
    illuminants: tuple[int, ...]
    forward_matrices: tuple[np.ndarray, ...] = ()
    camera_calibrations: tuple[np.ndarray, ...] = ()
    analog_balance: np.ndarray | None = None
    as_shot_neutral: np.ndarray | None = None
    as_shot_white_xy: tuple[float, float] | None = None
    baseline_exposure: float = 0.0

    def temperatures(self) -> tuple[float, ...]:
        """Colour temperature of each calibration illuminant (D65 for unknown codes, as the DNG SDK)."""
        return tuple(float(ILLUMINANT_TEMPERATURE.get(code, 6500)) for code in self.illuminants)


@dataclass(frozen=True)
class ShotColour:
    """The colour of one shot, by the DNG specification.

    Attributes:
        neutral: camera ``(R, G, B)`` values of a neutral surface under the shot's light, green 1.
        white_xy: the light's chromaticity.
        xyz_to_camera: ``AB @ CC @ CM`` interpolated for the light (XYZ -> camera).
        forward_matrix: with ForwardMatrix tags, the specification's white-balanced camera ``RGB / neutral``
            -> XYZ (D50) for the light; else ``None``.
        camera_to_xyz: white-balanced camera ``RGB / neutral`` -> XYZ adapted to D50 (white -> D50, Y = 1)
            as the specification gives it.
        baseline_exposure: the file's exposure compensation, EV.
    """

    neutral: np.ndarray
    white_xy: tuple[float, float]
    xyz_to_camera: np.ndarray
    forward_matrix: np.ndarray | None
    camera_to_xyz: np.ndarray
    baseline_exposure: float


# ---- reading ----------------------------------------------------------------------------------------


def _values(tags: dict, code: int) -> np.ndarray | None:
    tag = tags.get(code)
    if tag is None:
        return None
    value = np.asarray(tag.value, dtype=np.float64).ravel()
    if tag.dtype in (5, 10):  # (S)RATIONAL: numerator, denominator pairs
        num, den = value[0::2], value[1::2]
        if np.any(den == 0):
            return None
        value = num / den
    return value


def _matrix(tags: dict, code: int, path: Path) -> np.ndarray | None:
    value = _values(tags, code)
    if value is None:
        return None
    if value.size != 9 or not np.all(np.isfinite(value)):
        raise DataError(path, f"DNG tag {code} holds {value.size} values where a 3x3 matrix is expected",
                        "isplab reads 3-colour (RGB Bayer) DNGs only")
    return value.reshape(3, 3)


def read_dng_colour(path: str | Path) -> DngColour | None:
    """The colour tags of a DNG file (IFD 0), or ``None`` when it has no ColorMatrix1 (not a colour DNG)."""
    import tifffile  # only DNG developments need it

    path = Path(path)
    try:
        with tifffile.TiffFile(path) as tif:
            tags = {tag.code: tag for tag in tif.pages[0].tags.values()}
            first = _matrix(tags, _COLOR_MATRIX[0], path)
            if first is None:
                return None
            second = _matrix(tags, _COLOR_MATRIX[1], path)
            count = 1 if second is None else 2
            illuminants = tuple(int(v[0]) if (v := _values(tags, code)) is not None and v.size else 21
                                for code in _CALIBRATION_ILLUMINANT[:count])

            def pair(codes: tuple[int, int]) -> tuple[np.ndarray, ...]:
                found = tuple(m for code in codes[:count] if (m := _matrix(tags, code, path)) is not None)
                return found if len(found) == count else ()

            white_xy = _values(tags, _AS_SHOT_WHITE_XY)
            exposure = _values(tags, _BASELINE_EXPOSURE)
            analog = _values(tags, _ANALOG_BALANCE)
            neutral = _values(tags, _AS_SHOT_NEUTRAL)
    except DataError:
        raise
    except (OSError, ValueError, KeyError, IndexError, tifffile.TiffFileError) as exc:
        raise DataError(path, f"cannot read its DNG tags ({type(exc).__name__}: {exc})",
                        "check the file is a complete DNG") from None
    return DngColour(
        colour_matrices=(first,) if second is None else (first, second),
        illuminants=illuminants,
        forward_matrices=pair(_FORWARD_MATRIX),
        camera_calibrations=pair(_CAMERA_CALIBRATION),
        analog_balance=analog if analog is not None and analog.size == 3 and np.all(analog > 0) else None,
        as_shot_neutral=neutral if neutral is not None and neutral.size == 3 and np.all(neutral > 0) else None,
        as_shot_white_xy=(float(white_xy[0]), float(white_xy[1])) if white_xy is not None and white_xy.size == 2
        else None,
        baseline_exposure=float(exposure[0]) if exposure is not None and exposure.size else 0.0,
    )


# ---- the specification's colour model ---------------------------------------------------------------


def _weight(colour: DngColour, xy: tuple[float, float]) -> float:
    """Weight of the first calibration: linear in inverse temperature between the two, clamped."""
    if len(colour.colour_matrices) == 1:
        return 1.0
    t1, t2 = colour.temperatures()
    if t1 == t2:
        return 1.0
    t = xy_to_cct(xy)
    return float(np.clip((1 / t - 1 / t2) / (1 / t1 - 1 / t2), 0.0, 1.0))


def _blend(matrices: tuple[np.ndarray, ...], g: float) -> np.ndarray:
    return matrices[0] if len(matrices) == 1 else g * matrices[0] + (1 - g) * matrices[1]


def _analog_calibration(colour: DngColour, g: float) -> np.ndarray:
    ab = np.eye(3) if colour.analog_balance is None else np.diag(colour.analog_balance)
    cc = _blend(colour.camera_calibrations, g) if colour.camera_calibrations else np.eye(3)
    return ab @ cc


def xyz_to_camera(colour: DngColour, xy: tuple[float, float]) -> np.ndarray:
    """``AB @ CC @ CM`` for a light of chromaticity ``xy``."""
    g = _weight(colour, xy)
    return _analog_calibration(colour, g) @ _blend(colour.colour_matrices, g)


def neutral_of(colour: DngColour, xy: tuple[float, float]) -> np.ndarray:
    """Camera values of a neutral surface under a light of chromaticity ``xy`` (green 1)."""
    neutral = xyz_to_camera(colour, xy) @ xy_to_xyz(xy)
    return neutral / neutral[1]


def white_of(colour: DngColour, neutral: np.ndarray) -> tuple[float, float]:
    """The chromaticity of the light whose camera neutral is ``neutral`` (iterated to convergence)."""
    xy = D50_XY
    for _ in range(_MAX_ITERATIONS):
        new = xyz_to_xy(np.linalg.solve(xyz_to_camera(colour, xy), neutral))
        if abs(new[0] - xy[0]) + abs(new[1] - xy[1]) < 1e-7:
            return new
        xy = new
    return xy


def shot_colour(colour: DngColour, neutral: np.ndarray | None = None) -> ShotColour:
    """The shot's colour from its tags (``neutral`` overrides the as-shot one; with neither, D50 light)."""
    if neutral is not None:
        neutral = np.asarray(neutral, dtype=np.float64)
        xy = white_of(colour, neutral)
    elif colour.as_shot_neutral is not None:
        neutral = colour.as_shot_neutral
        xy = white_of(colour, neutral)
    else:
        xy = colour.as_shot_white_xy or D50_XY
        neutral = neutral_of(colour, xy)
    neutral = neutral / neutral[1]
    g = _weight(colour, xy)
    to_camera = xyz_to_camera(colour, xy)
    forward = None
    if colour.forward_matrices:
        analog_calibration = _analog_calibration(colour, g)
        reference_neutral = np.linalg.solve(analog_calibration, neutral)
        forward = (_blend(colour.forward_matrices, g) @ np.diag(1 / reference_neutral)
                   @ np.linalg.inv(analog_calibration) @ np.diag(neutral))
    return ShotColour(neutral=neutral, white_xy=xy, xyz_to_camera=to_camera, forward_matrix=forward,
                      camera_to_xyz=balanced_to_xyz(to_camera, neutral, forward, method="dng"),
                      baseline_exposure=colour.baseline_exposure)


def _unit_white(matrix: np.ndarray) -> np.ndarray:
    return matrix / matrix[1].sum()  # the balanced white (1, 1, 1) -> Y = 1


def balanced_to_xyz(xyz_to_camera: np.ndarray, neutral: np.ndarray, forward_matrix: np.ndarray | None = None,
                    method: str = "mixed") -> np.ndarray:
    """White-balanced camera RGB (``raw / neutral``) -> XYZ adapted to D50, the neutral -> D50 at Y = 1.

    A ``forward_matrix`` (the maker's calibration, :attr:`ShotColour.forward_matrix`) is used as it is;
    otherwise ``method`` (:data:`COLOUR_METHODS`) picks the estimate from ``xyz_to_camera`` (the matrix for
    the shot's light) and ``neutral``: ``dng`` the specification's (XYZ, then Bradford from the light's white
    to D50), ``camera`` white balance in camera space with the matrix as calibrated for D65, ``mixed`` their
    mean.
    """
    if forward_matrix is not None:
        return _unit_white(np.asarray(forward_matrix, dtype=np.float64))
    if method not in COLOUR_METHODS:
        raise ValueError(f"unknown colour method {method!r}; use one of {', '.join(COLOUR_METHODS)}")
    to_camera = np.asarray(xyz_to_camera, dtype=np.float64)
    neutral = np.asarray(neutral, dtype=np.float64)
    to_xyz = np.linalg.inv(to_camera)
    d50 = xy_to_xyz(D50_XY)
    dng = _unit_white(chromatic_adaptation(to_xyz @ neutral, d50) @ to_xyz @ np.diag(neutral))
    if method == "dng":
        return dng
    d65 = xy_to_xyz(D65_XY)
    camera = _unit_white(chromatic_adaptation(d65, d50) @ to_xyz @ np.diag(to_camera @ d65))
    return camera if method == "camera" else (dng + camera) / 2
