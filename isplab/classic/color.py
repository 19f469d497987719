"""Colour correction: a 3x3 matrix applied to every linear RGB pixel of ``(N, 3, H, W)``.

>>> import torch
>>> apply_ccm(torch.ones(1, 3, 2, 2), torch.eye(3) * 0.5)[0, :, 0, 0]
tensor([0.5000, 0.5000, 0.5000])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def apply_ccm(rgb: Tensor, ccm: Tensor | Sequence[Sequence[float]]) -> Tensor:
    """``out[:, i] = sum_j ccm[i, j] * rgb[:, j]``; ``ccm`` is ``(3, 3)`` or per image ``(N, 3, 3)``.

    Rows summing to 1 keep greys grey. No clipping here: the caller clips once, after all linear stages.
    """
    ccm = torch.as_tensor(ccm, dtype=rgb.dtype, device=rgb.device)
    if ccm.shape[-2:] != (3, 3) or rgb.ndim != 4 or rgb.shape[1] != 3:
        raise ValueError(
            f"need rgb (N, 3, H, W) and ccm (3, 3) or (N, 3, 3), got {tuple(rgb.shape)}, {tuple(ccm.shape)}"
        )
    return torch.einsum("nij,njhw->nihw", ccm.expand(rgb.shape[0], 3, 3), rgb)
