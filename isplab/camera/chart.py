"""How neutral the grey patches of the real test chart come out: patch geometry and CIELAB chroma.

The chart is fast-openISP's test frame (``fast-openisp-test-1920x1080-rggb-10bit.raw`` in
``shared/data/real-raw/``: 1920x1080 RGGB, 10-bit, black 0, white 1020), shot upside down through a wide
lens. Its grey ring has 36 patches; on this exposure the 7 brightest are clipped in the raw (they come
out pink without highlight handling) and the 11 darkest sit at the noise floor (below 3% of white, raw
codes about 10-30). :data:`GREY_PATCHES` are the other 18, the brightest unclipped ones (raw green 2.9% to
78% of white): 15 of the two side blocks of 2x4 patches and the three darkest of the bright bottom row.

Measurement (:func:`grey_patch_chroma`): per patch the mean sRGB of a 40x40 box well inside it, then
CIELAB (D65, ``skimage.color.rgb2lab``) and the chroma ``C*ab = sqrt(a*^2 + b*^2)``; 0 is perfectly grey.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from isplab.raw.readers import RawImage, read_headerless_raw

#: The frame's file name in ``shared/data/real-raw/`` and its geometry.
CHART_FILE = "fast-openisp-test-1920x1080-rggb-10bit.raw"
CHART_WIDTH, CHART_HEIGHT = 1920, 1080

#: Half side of a patch's measuring box, full-resolution pixels (patches are about 120 px wide).
PATCH_HALF = 20

#: Centres ``(x, y)`` of the 18 measured grey patches, full-resolution pixels, darkest first.
GREY_PATCHES: tuple[tuple[int, int], ...] = (
    (603, 378), (1235, 358), (480, 503), (1355, 358), (603, 503), (1235, 483), (1355, 483), (480, 628),
    (603, 628), (1235, 608), (1355, 608), (480, 750), (603, 750), (1235, 733), (1355, 733), (618, 870),
    (743, 870), (867, 870),
)


def read_chart(path: str | Path) -> RawImage:
    """The chart's raw frame (headerless little-endian uint16, RGGB, 10-bit, white 1020)."""
    return read_headerless_raw(path, width=CHART_WIDTH, height=CHART_HEIGHT, bit_depth=10, cfa="RGGB", white=1020)


def patch_boxes(shape: tuple[int, int] = (CHART_HEIGHT, CHART_WIDTH)) -> list[tuple[int, int, int, int]]:
    """``(y0, y1, x0, x1)`` of each patch's box in an image of ``shape = (h, w)`` (the chart scaled)."""
    sy, sx = shape[0] / CHART_HEIGHT, shape[1] / CHART_WIDTH
    return [(round((y - PATCH_HALF) * sy), round((y + PATCH_HALF) * sy),
             round((x - PATCH_HALF) * sx), round((x + PATCH_HALF) * sx)) for x, y in GREY_PATCHES]


def _hwc(rgb: np.ndarray) -> np.ndarray:
    if rgb.ndim == 3 and rgb.shape[0] == 3 and rgb.shape[-1] != 3:
        rgb = rgb.transpose(1, 2, 0)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3) or (3, H, W), got shape {rgb.shape}")
    return rgb


def grey_patch_chroma(rgb: np.ndarray) -> dict[str, Any]:
    """CIELAB chroma of the 18 grey patches in a rendering of the chart.

    Args:
        rgb: sRGB in [0, 1] (clipped here), ``(H, W, 3)`` or ``(3, H, W)``: the full frame at any scale.

    Returns:
        ``mean_chroma``, ``max_chroma``, ``mean_L`` over the patches, and per patch ``chroma``, ``L``
        and ``lab`` (darkest patch first).
    """
    from skimage.color import rgb2lab

    image = np.clip(_hwc(np.asarray(rgb, dtype=np.float64)), 0.0, 1.0)
    means = np.array([image[y0:y1, x0:x1].mean(axis=(0, 1)) for y0, y1, x0, x1 in patch_boxes(image.shape[:2])])
    lab = rgb2lab(means[None])[0]
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    return {"mean_chroma": float(chroma.mean()), "max_chroma": float(chroma.max()), "mean_L": float(lab[:, 0].mean()),
            "chroma": [round(float(c), 3) for c in chroma], "L": [round(float(v), 2) for v in lab[:, 0]],
            "lab": [[round(float(v), 3) for v in row] for row in lab]}
