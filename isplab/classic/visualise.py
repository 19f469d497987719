"""Make raw data viewable without developing it (the "raw" column of visual reports).

>>> import torch
>>> raw_visualisation(torch.full((4, 2, 3), 0.25)).shape
torch.Size([3, 4, 6])
"""

from __future__ import annotations

import torch

from isplab.raw.bayer import CANONICAL_RGB_INDEX

_INDEX = torch.tensor(CANONICAL_RGB_INDEX)


def raw_visualisation(packed: torch.Tensor) -> torch.Tensor:
    """Packed ``(4, h, w)`` -> a viewable RGB ``(3, 2h, 2w)``: R, mean G, B, gamma 1/2.2, nearest upscale."""
    planes = packed.new_zeros(3, *packed.shape[1:]).index_add_(0, _INDEX, packed)
    rgb = (planes / torch.bincount(_INDEX, minlength=3).view(3, 1, 1)).clamp(0, 1) ** (1 / 2.2)
    return rgb.repeat_interleave(2, 1).repeat_interleave(2, 2)
