"""Bilinear demosaic of packed raw: ``(N, 4, h, w)`` canonical ``(B, G_r, R, G_b)`` -> RGB ``(N, 3, 2h, 2w)``.

The demosaicing itself is kornia's (``kornia.color.raw_to_rgb``, bilinear): the packed planes are put
back on an RGGB mosaic with one depth-to-space, whatever the sensor's CFA (canonical packing places the
planes like an RGGB tile, see :mod:`isplab.raw.bayer`), so the output is on that grid, as for the learned
models.

>>> import torch
>>> bilinear_demosaic(torch.full((1, 4, 8, 8), 0.5)).shape
torch.Size([1, 3, 16, 16])
"""

from __future__ import annotations

import kornia
from torch import Tensor

from isplab.models.ops import depth_to_space
from isplab.raw.bayer import CFA


def _canonical_colours() -> tuple[int, ...]:
    """RGB index (0=R, 1=G, 2=B) of each canonical packed channel, read off the RGGB tile."""
    return tuple("RGB".index(CFA.RGGB.value[2 * dy + dx]) for dy, dx in CFA.RGGB.offsets)


#: RGB index of each packed channel ``(B, G_r, R, G_b)``: ``(2, 1, 0, 1)``.
CANONICAL_COLOURS = _canonical_colours()

#: Packed channel at each RGGB tile position in depth-to-space order ``(0,0), (0,1), (1,0), (1,1)``.
_RGGB_TILE = [CFA.RGGB.offsets.index((dy, dx)) for dy in (0, 1) for dx in (0, 1)]


def to_mosaic(packed: Tensor) -> Tensor:
    """Packed ``(N, 4, h, w)`` -> the RGGB mosaic ``(N, 1, 2h, 2w)`` it came from."""
    if packed.ndim != 4 or packed.shape[1] != 4:
        raise ValueError(f"packed raw must be (N, 4, h, w), got shape {tuple(packed.shape)}")
    return depth_to_space(packed[:, _RGGB_TILE], 2)


def bilinear_demosaic(packed: Tensor) -> Tensor:
    """Bilinear demosaic: packed ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)``, same dtype, differentiable."""
    # kornia names CFAs OpenCV-style: ``CFA.BG`` is a sensor whose top-left 2x2 tile is RGGB.
    return kornia.color.raw_to_rgb(to_mosaic(packed), kornia.color.CFA.BG)
