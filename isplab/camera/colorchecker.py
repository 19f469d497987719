"""The ColorChecker 24: patch geometry from four corners, colour measurement, and a camera profile fit.

Patch numbers follow X-Rite: row by row from dark skin (1, top left) to black (24, bottom right); the grey
row is 19 (white) to 24. Reference colours are X-Rite's (after November 2014, CIE xyY under D50) as
colour-science ships them, or the XYZ of measured reflectance spectra (benchmarks).

* :func:`patch_centres`: the 24 centres from the centres of patches 1, 6, 24 and 19 (any perspective: a
  homography through the four);
* :func:`patch_means`: mean of a box around each centre, of any ``(H, W, C)`` image;
* :func:`chroma_hue_error`: CIEDE2000 with lightness removed (each rendered patch given its reference L*),
  so tone curves and exposure count only through chroma;
* :func:`fit_profile`: the camera's XYZ -> camera matrix and neutral from the 24 patches of a raw capture;
  :func:`profile_capture` does it for a frame, :func:`write_profile` saves the profile (``isplab profile``).

Patches are located from four given corners; no automatic chart detector is used (the well-kept ones need
OpenCV's contrib build, a large dependency for one command).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isplab.atomic import write_text_atomic
from isplab.camera.adapt import frame_domain
from isplab.camera.profile import RawDomain, neutral_from_rgb
from isplab.colorimetry import D50_XY, chromatic_adaptation, xy_to_xyz
from isplab.errors import IsplabError
from isplab.raw.readers import RawImage

ROWS, COLUMNS = 4, 6
GREYS = tuple(range(18, 24))  #: 0-based indices of the grey row, white first

#: Box half-side as a fraction of the distance between neighbouring patch centres.
BOX = 0.25

#: Chromaticities of the reference lights a chart can be profiled under (CIE 1931 2°).
ILLUMINANTS = {"D50": D50_XY, "D65": (0.3127, 0.3290), "A": (0.44757, 0.40745)}


def _homography(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    rows = []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    return np.linalg.svd(np.asarray(rows, dtype=np.float64))[2][-1].reshape(3, 3)


def patch_centres(corners: Sequence[Sequence[float]]) -> np.ndarray:
    """``(24, 2)`` patch centres ``(x, y)`` from the centres of patches 1, 6, 24, 19 (top left, top right,
    bottom right, bottom left, as the chart is read)."""
    corners = np.asarray(corners, dtype=np.float64)
    if corners.shape != (4, 2) or not np.all(np.isfinite(corners)):
        raise IsplabError(f"need the centres of patches 1, 6, 24 and 19 as 4 (x, y) pairs, got {corners.tolist()}")
    grid = np.array([[0, 0], [COLUMNS - 1, 0], [COLUMNS - 1, ROWS - 1], [0, ROWS - 1]], dtype=np.float64)
    h = _homography(grid, corners)
    cols, rows = np.meshgrid(np.arange(COLUMNS), np.arange(ROWS))
    points = np.stack([cols.ravel(), rows.ravel(), np.ones(ROWS * COLUMNS)])
    mapped = h @ points
    return (mapped[:2] / mapped[2]).T


def patch_means(image: np.ndarray, centres: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """Mean of each patch's box in ``image`` ``(H, W, C)``; ``centres`` in full-resolution pixels, ``scale``
    the image's size relative to them (0.5 for a packed raw)."""
    centres = np.asarray(centres, dtype=np.float64) * scale
    pitch = np.median(np.hypot(*np.diff(centres.reshape(ROWS, COLUMNS, 2), axis=1).reshape(-1, 2).T))
    half = max(1, int(pitch * BOX))
    h, w = image.shape[:2]
    means = []
    for x, y in centres:
        x0, y0 = int(round(x)) - half, int(round(y)) - half
        if x0 < 0 or y0 < 0 or x0 + 2 * half > w or y0 + 2 * half > h:
            raise IsplabError(f"patch at ({x / scale:.0f}, {y / scale:.0f}) lies outside the "
                              f"{int(w / scale)}x{int(h / scale)} frame: check --corners")
        means.append(image[y0:y0 + 2 * half, x0:x0 + 2 * half].reshape(-1, image.shape[2]).mean(axis=0))
    return np.asarray(means)


def reference_xyz(illuminant: str = "D65") -> np.ndarray:
    """``(24, 3)`` XYZ (white ~0.9) of X-Rite's ColorChecker under ``illuminant`` (Bradford from D50)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # colour-science warns that matplotlib is absent
        import colour

    if illuminant not in ILLUMINANTS:
        raise IsplabError(f"unknown illuminant {illuminant!r}; use one of {', '.join(ILLUMINANTS)}")
    chart = colour.CCS_COLOURCHECKERS["ColorChecker24 - After November 2014"]
    xyz = colour.xyY_to_XYZ(np.array(list(chart.data.values())))
    return xyz @ chromatic_adaptation(xy_to_xyz(D50_XY), xy_to_xyz(ILLUMINANTS[illuminant])).T


def chroma_hue_error(rendered_lab: np.ndarray, reference_lab: np.ndarray) -> np.ndarray:
    """Per-patch CIEDE2000 between rendered and reference CIELAB with the lightness difference removed."""
    from skimage.color import deltaE_ciede2000

    rendered = np.array(rendered_lab, dtype=np.float64)
    rendered[..., 0] = reference_lab[..., 0]
    return deltaE_ciede2000(reference_lab, rendered)


@dataclass(frozen=True)
class ProfileFit:
    """A camera profile fitted to a chart capture: XYZ -> camera matrix (DNG convention: the light's white
    has its largest camera channel at 1) and neutral ``(R, G, B)``, with the mean and max CIEDE2000 of the
    24 patches rendered through it (lightness included: how well a 3x3 matrix explains the capture)."""

    xyz_to_camera: np.ndarray
    neutral: np.ndarray
    mean_error: float
    max_error: float


def fit_profile(camera_rgb: np.ndarray, illuminant: str = "D65") -> ProfileFit:
    """Least-squares ``M`` with ``camera ~ M @ XYZ`` over the 24 patches' linear camera means ``(24, 3)``
    (black subtracted, ``R, G, B``); the neutral is what ``M`` gives the light's white."""
    from skimage.color import deltaE_ciede2000, xyz2lab

    camera_rgb = np.asarray(camera_rgb, dtype=np.float64)
    if camera_rgb.shape != (24, 3) or not np.all(np.isfinite(camera_rgb)):
        raise IsplabError(f"need 24 patches x (R, G, B) camera values, got shape {camera_rgb.shape}")
    if np.any(camera_rgb[list(GREYS[1:5])] <= 0):
        raise IsplabError("the grey patches 20-23 have no signal: check --corners, the exposure and black level")
    xyz = reference_xyz(illuminant)
    solution, *_ = np.linalg.lstsq(xyz, camera_rgb, rcond=None)
    matrix = solution.T
    white = xy_to_xyz(ILLUMINANTS[illuminant])
    neutral = matrix @ white
    if np.any(neutral <= 0) or abs(np.linalg.det(matrix)) < 1e-12:
        raise IsplabError("the chart's patches do not determine a colour matrix: check --corners and the exposure")
    rendered = camera_rgb @ np.linalg.inv(matrix).T  # the patches' XYZ as the profile maps them back
    errors = deltaE_ciede2000(xyz2lab(np.clip(xyz, 1e-9, None), illuminant),
                              xyz2lab(np.clip(rendered, 1e-9, None), illuminant))
    return ProfileFit(xyz_to_camera=matrix / neutral.max(), neutral=neutral / neutral[1],
                      mean_error=float(errors.mean()), max_error=float(errors.max()))


def profile_capture(image: RawImage, corners: Sequence[Sequence[float]], illuminant: str = "D65"
                    ) -> tuple[RawDomain, ProfileFit]:
    """A camera profile from a ColorChecker capture (read by :func:`isplab.raw.readers.read_raw`): the
    frame's levels, and the matrix and neutral :func:`fit_profile` finds on its patches (``corners``: the
    centres of patches 1, 6, 24 and 19 in full-resolution pixels)."""
    packed = image.packed().transpose(1, 2, 0)  # (h, w, 4): B, Gr, R, Gb, black-free, white = 1
    means = patch_means(packed, patch_centres(corners), scale=0.5)
    fit = fit_profile(np.stack([means[:, 2], (means[:, 1] + means[:, 3]) / 2, means[:, 0]], axis=1), illuminant)
    domain = frame_domain(image)
    profile = RawDomain(black=domain.black, white=domain.white, neutral=neutral_from_rgb(fit.neutral),
                        colour_matrix=fit.xyz_to_camera,
                        camera=f"profiled from {image.path.name if image.path else 'a chart'} under {illuminant}")
    return profile, fit


def write_profile(profile: RawDomain, fit: ProfileFit, path: str | Path) -> Path:
    """Write ``profile`` as YAML (atomically), with the fit's quality as a comment."""
    import yaml

    header = (f"# isplab camera profile: {profile.camera}\n"
              f"# ColorChecker fit: mean CIEDE2000 {fit.mean_error:.2f}, max {fit.max_error:.2f} (24 patches)\n")
    return write_text_atomic(path, header + yaml.safe_dump(profile.to_dict(), sort_keys=False))
