"""Per-pixel losses: ``l1``, ``mse``, ``charbonnier``. Inputs ``(N, C, H, W)``, output a scalar mean.

>>> from isplab.losses import create_loss
>>> create_loss("charbonnier", eps=1e-3)(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
tensor(0.0010)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from isplab.losses.registry import check_pair, register_loss


@register_loss("l1")
class L1Loss(nn.Module):
    """Mean absolute error."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        return (pred - target).abs().mean()


@register_loss("mse")
class MSELoss(nn.Module):
    """Mean squared error."""

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        return (pred - target).pow(2).mean()


@register_loss("charbonnier")
class CharbonnierLoss(nn.Module):
    """Charbonnier (smooth L1): mean of ``sqrt((pred - target)^2 + eps^2)``; equals ``eps`` when identical.

    Kept in its usual form (no ``- eps``) so values compare with published training logs.
    """

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        if eps <= 0:
            raise ValueError(f"charbonnier eps must be > 0 (it keeps the gradient finite at 0), got {eps}")
        self.eps = float(eps)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        return torch.sqrt((pred - target).pow(2) + self.eps**2).mean()

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
