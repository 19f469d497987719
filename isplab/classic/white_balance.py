"""White balance on packed raw ``(N, 4, h, w)``: given RGB gains, or grey-world estimates.

>>> import torch
>>> packed = torch.tensor([0.1, 0.2, 0.4, 0.2]).view(1, 4, 1, 1)  # (B, G_r, R, G_b)
>>> grey_world_gains(packed)
tensor([[0.5000, 1.0000, 2.0000]])
>>> apply_white_balance(packed, grey_world_gains(packed)).flatten()
tensor([0.2000, 0.2000, 0.2000, 0.2000])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from isplab.classic.demosaic import CANONICAL_COLOURS

_COLOUR_INDEX = torch.tensor(CANONICAL_COLOURS)


def colour_means(packed: Tensor) -> Tensor:
    """Mean of each colour ``(N, 3)`` in RGB order; the two green planes are pooled."""
    plane_means = packed.mean(dim=(2, 3))  # (N, 4)
    index = _COLOUR_INDEX.to(packed.device)
    sums = plane_means.new_zeros(packed.shape[0], 3).index_add_(1, index, plane_means)
    counts = torch.bincount(_COLOUR_INDEX, minlength=3).to(plane_means)
    return sums / counts


def grey_world_gains(packed: Tensor, eps: float = 1e-6) -> Tensor:
    """Grey-world RGB gains ``(N, 3)``: scale R and B so their means equal the green mean (green gain 1)."""
    means = colour_means(packed).clamp_min(eps)
    return means[:, 1:2] / means


def apply_white_balance(packed: Tensor, gains: Tensor | Sequence[float]) -> Tensor:
    """Multiply each packed plane by its colour's gain (RGB ``(3,)`` or ``(N, 3)``), then clip to [0, 1].

    Clipping at 1 mirrors a sensor's saturation: a gain cannot recover what the photosite clipped.
    """
    gains = torch.as_tensor(gains, dtype=packed.dtype, device=packed.device)
    per_plane = gains[..., _COLOUR_INDEX.to(packed.device)]  # (4,) or (N, 4)
    return (packed * per_plane.reshape(-1, 4, 1, 1)).clamp(0.0, 1.0)
