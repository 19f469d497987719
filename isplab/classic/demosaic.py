"""Bilinear demosaic of packed raw: ``(N, 4, h, w)`` canonical ``(B, G_r, R, G_b)`` -> RGB ``(N, 3, 2h, 2w)``.

The packed planes are put back on the full-resolution grid (a fixed 1x1 conv + ``pixel_shuffle``, one
sparse plane per colour), then each colour is filled in by *normalised convolution*: the classic bilinear
kernels applied to the samples, divided by the same kernels applied to the sample mask. Away from the
borders the mask sum is exactly 1 (plain bilinear, exact on linear ramps); at the borders the division
averages the neighbours that exist instead of pulling in zero padding.

Canonical packing places the planes like an RGGB mosaic (see :mod:`isplab.raw.bayer`), whatever the
sensor's CFA, so the output is on that grid (as for the learned models).

>>> import torch
>>> bilinear_demosaic(torch.full((1, 4, 8, 8), 0.5)).shape
torch.Size([1, 3, 16, 16])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from isplab.raw.bayer import CFA


def _canonical_colours() -> tuple[int, ...]:
    """RGB index (0=R, 1=G, 2=B) of each canonical packed channel, read off the RGGB tile."""
    return tuple("RGB".index(CFA.RGGB.value[2 * dy + dx]) for dy, dx in CFA.RGGB.offsets)


#: RGB index of each packed channel ``(B, G_r, R, G_b)``: ``(2, 1, 0, 1)``.
CANONICAL_COLOURS = _canonical_colours()


def _scatter_weight() -> Tensor:
    """``(12, 4, 1, 1)`` 1x1-conv weight sending packed channel ``c`` to slot ``(colour, tile position)``.

    ``pixel_shuffle(·, 2)`` then places slot ``colour * 4 + 2 * dy + dx`` at pixel ``(2y + dy, 2x + dx)``.
    """
    weight = torch.zeros(3, 4, 4)
    for channel, (dy, dx) in enumerate(CFA.RGGB.offsets):
        weight[CANONICAL_COLOURS[channel], 2 * dy + dx, channel] = 1.0
    return weight.view(12, 4, 1, 1)


_SCATTER = _scatter_weight()
_RB = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4  # R, B: 1 in 4 sites
_G = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4  # G: 1 in 2 sites (quincunx)
_KERNELS = torch.stack([_RB, _G, _RB]).unsqueeze(1)  # (3, 1, 3, 3), depthwise per colour


def sparse_rgb(packed: Tensor) -> Tensor:
    """Packed ``(N, 4, h, w)`` -> ``(N, 3, 2h, 2w)`` with each sample in its colour plane, zeros elsewhere."""
    if packed.ndim != 4 or packed.shape[1] != 4:
        raise ValueError(f"packed raw must be (N, 4, h, w), got shape {tuple(packed.shape)}")
    return F.pixel_shuffle(F.conv2d(packed, _SCATTER.to(packed)), 2)


def bilinear_demosaic(packed: Tensor) -> Tensor:
    """Bilinear demosaic: packed ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)``, same dtype, differentiable."""
    samples = sparse_rgb(packed)
    mask = sparse_rgb(torch.ones_like(packed[:1]))
    kernels = _KERNELS.to(packed)
    num = F.conv2d(samples, kernels, padding=1, groups=3)
    den = F.conv2d(mask, kernels, padding=1, groups=3)
    return num / den
