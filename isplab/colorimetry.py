"""Colorimetry in numpy: chromaticities, correlated colour temperature, chromatic adaptation, sRGB primaries.

The maths the camera colour pipeline needs on its hot start-up path (every DNG development): numpy only,
because importing colour-science costs ~0.8 s per process. Every function is checked against colour-science
in ``tests/test_colorimetry.py``.

>>> round(xy_to_cct(D65_XY))
6504
>>> np.allclose(chromatic_adaptation(xy_to_xyz(D65_XY), xy_to_xyz(D65_XY)), np.eye(3))
True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: CIE 1931 2° chromaticities of the reference whites (as the DNG specification and ICC use them).
D50_XY = (0.3457, 0.3585)
D65_XY = (0.3127, 0.3290)

#: Linear sRGB (D65) -> CIE XYZ (IEC 61966-2-1).
SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
XYZ_TO_SRGB = np.linalg.inv(SRGB_TO_XYZ)

#: Cone-like spaces of the von Kries chromatic adaptation transforms (XYZ -> LMS).
CAT_SPACES: dict[str, np.ndarray] = {
    # Lam 1985; the DNG specification's choice.
    "bradford": np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]),
    # CIECAM02.
    "cat02": np.array([[0.7328, 0.4296, -0.1624], [-0.7036, 1.6975, 0.0061], [0.0030, 0.0136, 0.9834]]),
}

# Robertson (1968) isotemperature lines: reciprocal megakelvin, CIE 1960 u, v, slope t (Wyszecki & Stiles,
# with Lindbloom's correction of the 325 line's u).
_ROBERTSON = np.array([
    (0, 0.18006, 0.26352, -0.24341), (10, 0.18066, 0.26589, -0.25479), (20, 0.18133, 0.26846, -0.26876),
    (30, 0.18208, 0.27119, -0.28539), (40, 0.18293, 0.27407, -0.30470), (50, 0.18388, 0.27709, -0.32675),
    (60, 0.18494, 0.28021, -0.35156), (70, 0.18611, 0.28342, -0.37915), (80, 0.18740, 0.28668, -0.40955),
    (90, 0.18880, 0.28997, -0.44278), (100, 0.19032, 0.29326, -0.47888), (125, 0.19462, 0.30141, -0.58204),
    (150, 0.19962, 0.30921, -0.70471), (175, 0.20525, 0.31647, -0.84901), (200, 0.21142, 0.32312, -1.0182),
    (225, 0.21807, 0.32909, -1.2168), (250, 0.22511, 0.33439, -1.4512), (275, 0.23247, 0.33904, -1.7298),
    (300, 0.24010, 0.34308, -2.0637), (325, 0.24792, 0.34655, -2.4681), (350, 0.25591, 0.34951, -2.9641),
    (375, 0.26400, 0.35200, -3.5814), (400, 0.27218, 0.35407, -4.3633), (425, 0.28039, 0.35577, -5.3762),
    (450, 0.28863, 0.35714, -6.7262), (475, 0.29685, 0.35823, -8.5955), (500, 0.30505, 0.35907, -11.324),
    (525, 0.31320, 0.35968, -15.628), (550, 0.32129, 0.36011, -23.325), (575, 0.32931, 0.36038, -40.770),
    (600, 0.33724, 0.36051, -116.45),
])


def xy_to_xyz(xy: Sequence[float], luminance: float = 1.0) -> np.ndarray:
    """CIE xy chromaticity -> XYZ with ``Y = luminance``."""
    x, y = (float(v) for v in xy)
    if y <= 0:
        raise ValueError(f"chromaticity y must be positive, got {xy}")
    return np.array([x / y, 1.0, (1.0 - x - y) / y]) * luminance


def xyz_to_xy(xyz: Sequence[float]) -> tuple[float, float]:
    """CIE XYZ -> xy chromaticity."""
    xyz = np.asarray(xyz, dtype=np.float64)
    total = xyz.sum()
    if not np.isfinite(total) or total <= 0:
        raise ValueError(f"XYZ {xyz.tolist()} has no chromaticity (non-positive sum)")
    return float(xyz[0] / total), float(xyz[1] / total)


def xy_to_cct(xy: Sequence[float]) -> float:
    """Correlated colour temperature (K) of a chromaticity by Robertson's method, clamped to the table's
    range (1,667 K .. infinity, returned as 1e6 K at its blue end)."""
    x, y = (float(v) for v in xy)
    denominator = -2 * x + 12 * y + 3
    u, v = 4 * x / denominator, 6 * y / denominator
    mired, ui, vi, ti = _ROBERTSON.T
    # Signed distance of (u, v) from each isotemperature line; the temperature lies where it changes sign.
    d = ((v - vi) - ti * (u - ui)) / np.sqrt(1 + ti * ti)
    crossing = np.nonzero(d[1:] * d[:-1] <= 0)[0]
    if crossing.size == 0:
        m = mired[0] if d[0] > 0 else mired[-1]  # beyond the table: its nearest end
    else:
        i = crossing[0]
        m = mired[i] + (mired[i + 1] - mired[i]) * d[i] / (d[i] - d[i + 1])
    return 1e6 / max(float(m), 1.0)


def chromatic_adaptation(source_white: Sequence[float], target_white: Sequence[float],
                         method: str = "bradford") -> np.ndarray:
    """The ``(3, 3)`` von Kries transform XYZ under ``source_white`` -> XYZ under ``target_white`` (both XYZ)."""
    try:
        space = CAT_SPACES[method]
    except KeyError:
        raise ValueError(f"unknown chromatic adaptation {method!r}; use one of {', '.join(CAT_SPACES)}") from None
    gains = (space @ np.asarray(target_white, dtype=np.float64)) / (space @ np.asarray(source_white, dtype=np.float64))
    return np.linalg.inv(space) @ np.diag(gains) @ space


# ---- simulated cameras in the Brooks et al. convention --------------------------------------------------

#: The four XYZ -> camera matrices of Brooks et al.'s reference code ("Unprocessing Images for Learned Raw
#: Denoising", CVPR 2019); the first is isplab's canonical camera.
BROOKS_MATRICES = (
    ((1.0234, -0.2969, -0.2266), (-0.5625, 1.6328, -0.0469), (-0.0703, 0.2188, 0.6406)),
    ((0.4913, -0.0541, -0.0202), (-0.613, 1.3513, 0.2906), (-0.1564, 0.2151, 0.7183)),
    ((0.838, -0.263, -0.0639), (-0.2887, 1.0725, 0.2496), (-0.0627, 0.1427, 0.5438)),
    ((0.6596, -0.2079, -0.0562), (-0.4782, 1.3016, 0.1933), (-0.097, 0.1581, 0.5181)),
)


def srgb_to_camera(xyz_to_cam: np.ndarray) -> np.ndarray:
    """Linear sRGB -> camera RGB ``(..., 3, 3)``, rows normalised to sum to 1 so that white stays white after
    white balance (the convention of dcraw and of Brooks et al.)."""
    m = np.asarray(xyz_to_cam, dtype=np.float64) @ SRGB_TO_XYZ
    return m / m.sum(axis=-1, keepdims=True)


def camera_colour_space(xyz_to_cam: np.ndarray, red_gain: float, blue_gain: float) -> tuple[np.ndarray, np.ndarray]:
    """The colour space of a camera simulated after Brooks et al.: linear sRGB goes through
    :func:`srgb_to_camera` and the inverse white-balance gains. Returns its XYZ -> camera matrix for D65
    light (DNG convention: the light's white maps to the neutral) and that neutral ``(R, G, B)``."""
    neutral = np.array([1 / red_gain, 1.0, 1 / blue_gain])
    return np.diag(neutral) @ srgb_to_camera(xyz_to_cam) @ XYZ_TO_SRGB, neutral
