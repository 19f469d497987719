"""White balance on packed raw ``(N, 4, h, w)``: given RGB gains, or estimated per image.

Estimates (green gain 1): ``grey_world`` (the scene averages to grey) and ``white_patch`` (the brightest
unclipped pixels are white: a high percentile of each colour).

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

from isplab.raw.bayer import CANONICAL_RGB_INDEX

_COLOUR_INDEX = torch.tensor(CANONICAL_RGB_INDEX)


def _per_colour(plane_values: Tensor) -> Tensor:
    """Per-plane statistics ``(N, 4)`` -> per-colour ``(N, 3)`` (RGB order; the two greens averaged)."""
    index = _COLOUR_INDEX.to(plane_values.device)
    sums = plane_values.new_zeros(plane_values.shape[0], 3).index_add_(1, index, plane_values)
    return sums / torch.bincount(_COLOUR_INDEX, minlength=3).to(plane_values)


def colour_means(packed: Tensor) -> Tensor:
    """Mean of each colour ``(N, 3)`` in RGB order; the two green planes are pooled."""
    return _per_colour(packed.mean(dim=(2, 3)))


def grey_world_gains(packed: Tensor, eps: float = 1e-6) -> Tensor:
    """Grey-world RGB gains ``(N, 3)``: scale R and B so their means equal the green mean (green gain 1)."""
    means = colour_means(packed).clamp_min(eps)
    return means[:, 1:2] / means


def white_patch_gains(packed: Tensor, percentile: float = 99.0, clip: float = 0.98, eps: float = 1e-6) -> Tensor:
    """White-patch RGB gains ``(N, 3)``: the ``percentile`` of each colour (ignoring photosites at or above
    ``clip``, which saturated) is taken as white."""
    flat = packed.flatten(2).float()
    flat = torch.where(flat < clip, flat, torch.nan)
    plane = torch.nanquantile(flat, percentile / 100, dim=2).nan_to_num(1.0)  # (N, 4)
    whites = _per_colour(plane).clamp_min(eps)
    return whites[:, 1:2] / whites


def apply_white_balance(packed: Tensor, gains: Tensor | Sequence[float]) -> Tensor:
    """Multiply each packed plane by its colour's gain (RGB ``(3,)`` or ``(N, 3)``), then clip to [0, 1].

    Clipping at 1 mirrors a sensor's saturation: a gain cannot recover what the photosite clipped.
    """
    gains = torch.as_tensor(gains, dtype=packed.dtype, device=packed.device)
    per_plane = gains[..., _COLOUR_INDEX.to(packed.device)]  # (4,) or (N, 4)
    return (packed * per_plane.reshape(-1, 4, 1, 1)).clamp(0.0, 1.0)


#: White-balance estimators by name.
ESTIMATORS = {"grey_world": grey_world_gains, "white_patch": white_patch_gains}
