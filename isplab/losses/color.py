"""Colour losses: ``cosine`` (per-pixel RGB direction), ``color`` (blurred-colour L2), ``exposure`` (patch brightness).

All take RGB batches ``(N, 3, H, W)`` in [0, 1] and return a scalar.

>>> import torch
>>> from isplab.losses import create_loss
>>> x = torch.rand(1, 3, 32, 32)
>>> [round(float(create_loss(n)(x, x)), 6) for n in ("cosine", "color", "exposure")]
[0.0, 0.0, 0.0]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from isplab.errors import IsplabError
from isplab.losses.edge import depthwise_filter
from isplab.losses.registry import check_pair, register_loss
from isplab.models.ops import gauss_kernel


@register_loss("cosine")
class CosineLoss(nn.Module):
    """1 - cosine similarity of the per-pixel RGB vectors, mean over pixels (Multimedia, report 4.2).

    Each RGB vector is extended by a constant ``eps`` coordinate, ``[r, g, b, eps]``: identical pixels
    then score exactly 0 (black ones too), and the gradient stays finite at black pixels, where the
    direction of a plain RGB vector is undefined.
    """

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        if eps <= 0:
            raise IsplabError(f"cosine eps must be > 0 (it defines black pixels' direction), got {eps}")
        self.eps = float(eps)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        eps2 = self.eps**2
        dot = (pred * target).sum(dim=1) + eps2
        norms = torch.sqrt(pred.pow(2).sum(dim=1) + eps2) * torch.sqrt(target.pow(2).sum(dim=1) + eps2)
        return (1.0 - dot / norms).clamp_min(0.0).mean()  # rounding can push cos a hair above 1

    def extra_repr(self) -> str:
        return f"eps={self.eps}"


@register_loss("color")
class ColorLoss(nn.Module):
    """MSE between Gaussian-blurred images (DPED colour loss, Ignatov et al., ICCV 2017).

    The blur (``kernel_size`` x ``kernel_size``, ``sigma``; DPED: 21, 3) removes texture so only colour
    and brightness are compared; borders use replicate padding.
    """

    def __init__(self, kernel_size: int = 21, sigma: float = 3.0) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0 or sigma <= 0:
            raise IsplabError(f"color loss needs an odd kernel_size >= 1 and sigma > 0, got {kernel_size}, {sigma}")
        self.kernel_size, self.sigma = kernel_size, float(sigma)
        # The Gaussian is separable: two 1-D passes (2K taps instead of K^2); row sums of the 2-D kernel.
        taps = gauss_kernel(kernel_size, sigma)[0].sum(dim=1)
        self.register_buffer("taps", taps, persistent=False)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        return F.mse_loss(self.blur(pred), self.blur(target))

    def blur(self, x: Tensor) -> Tensor:
        """Gaussian blur of ``x`` ``(N, C, H, W)``, same shape, replicate borders."""
        return depthwise_filter(depthwise_filter(x, self.taps.view(1, 1, -1)), self.taps.view(1, -1, 1))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, sigma={self.sigma}"


@register_loss("exposure")
class ExposureLoss(nn.Module):
    """L1 between mean brightness of non-overlapping patches (Zero-DCE exposure control loss, Guo et al. 2020).

    Brightness is the RGB mean over ``patch`` x ``patch`` cells (Zero-DCE: 16). With ``level=None``
    (default) each cell is compared with the *target's* cell, so identical images score 0; with a number
    (Zero-DCE: 0.6) it is Zero-DCE's reference-free ``mean_k |Y_k - level|`` and the target is ignored.
    Partial cells at the right/bottom border are dropped.
    """

    def __init__(self, patch: int = 16, level: float | None = None) -> None:
        super().__init__()
        if patch < 1:
            raise IsplabError(f"exposure patch must be >= 1, got {patch}")
        self.patch, self.level = patch, level

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        if min(pred.shape[-2:]) < self.patch:
            raise IsplabError(f"exposure loss: image {tuple(pred.shape[-2:])} is smaller than patch {self.patch}")
        bright = F.avg_pool2d(pred.mean(dim=1, keepdim=True), self.patch)
        ref = F.avg_pool2d(target.mean(dim=1, keepdim=True), self.patch) if self.level is None else self.level
        return (bright - ref).abs().mean()

    def extra_repr(self) -> str:
        return f"patch={self.patch}, level={self.level}"
