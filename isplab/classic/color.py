"""Colour correction: a 3x3 matrix (white-balanced camera RGB -> linear sRGB) on ``(N, 3, H, W)``.

>>> import torch
>>> apply_ccm(torch.ones(1, 3, 2, 2), torch.eye(3) * 0.5)[0, :, 0, 0]
tensor([0.5000, 0.5000, 0.5000])
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from isplab.colour import apply_matrix


def apply_ccm(rgb: Tensor, ccm: Tensor | Sequence[Sequence[float]]) -> Tensor:
    """``out[:, i] = sum_j ccm[i, j] * rgb[:, j]``; ``ccm`` is ``(3, 3)`` or per image ``(N, 3, 3)``.

    Rows summing to 1 keep greys grey. No clipping here: the caller clips once, after all linear stages.
    """
    if rgb.ndim != 4:
        raise ValueError(f"need rgb (N, 3, H, W), got {tuple(rgb.shape)}")
    return apply_matrix(rgb, ccm)
