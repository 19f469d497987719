"""Structural losses: ``ssim`` (1 - SSIM) and ``ms_ssim`` (1 - MS-SSIM), built on :mod:`isplab.metrics`.

Both are 0 on identical images and differentiable. MS-SSIM needs the shorter image side larger than
``(win_size - 1) * 16`` (160 px at the default ``win_size=11``); smaller crops raise a clear error.

>>> import torch
>>> from isplab.losses import create_loss
>>> x = torch.rand(1, 3, 16, 16)
>>> float(create_loss("ssim")(x, x))
0.0
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from isplab import metrics
from isplab.losses.registry import register_loss


@register_loss("ssim")
class SSIMLoss(nn.Module):
    """1 - SSIM (scikit-image's definition: 7x7 uniform window), mean over the batch."""

    def __init__(self, win_size: int = 7, data_range: float = 1.0) -> None:
        super().__init__()
        self.win_size, self.data_range = win_size, data_range

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        return 1.0 - metrics.ssim(pred, target, data_range=self.data_range, win_size=self.win_size, fast=True)

    def extra_repr(self) -> str:
        return f"win_size={self.win_size}, data_range={self.data_range}"


@register_loss("ms_ssim")
class MSSSIMLoss(nn.Module):
    """1 - MS-SSIM (pytorch-msssim), mean over the batch; needs > 160 px images at the default win_size."""

    def __init__(
        self, win_size: int = 11, weights: Sequence[float] | None = None, data_range: float = 1.0
    ) -> None:
        super().__init__()
        self.win_size, self.data_range = win_size, data_range
        self.weights = tuple(weights) if weights is not None else None

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        value = metrics.ms_ssim(
            pred, target, data_range=self.data_range, win_size=self.win_size, weights=self.weights
        )
        return 1.0 - value

    def extra_repr(self) -> str:
        return f"win_size={self.win_size}, weights={self.weights}, data_range={self.data_range}"
