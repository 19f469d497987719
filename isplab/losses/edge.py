"""Edge loss ``edge``: Charbonnier distance between edge maps (CASIA 1st and CHannel Team, report [59]).

Two edge operators (``mode``):

* ``laplacian`` (default): MPRNet's EdgeLoss (Zamir et al., CVPR 2021), the usual PyTorch form of an
  edge loss: one Laplacian-pyramid level ``x - G(up(down(G(x))))`` with the 5-tap kernel
  ``[.05, .25, .4, .25, .05]``, replicate padding. Kept exactly as MPRNet's code, including its border
  effect: replicating the zero-inserted image makes the band non-zero on flat images at the last
  rows/columns, so a pure brightness offset costs a little there.
* ``sobel``: Sobel x/y gradients per channel (the edge map of Seif & Androutsos [59] is a gradient
  magnitude; the two gradients are compared directly so the loss stays smooth).

Like ``charbonnier`` it equals ``eps`` (not 0) on identical inputs.

>>> import torch
>>> from isplab.losses import create_loss
>>> x = torch.rand(1, 3, 16, 16)
>>> round(float(create_loss("edge")(x, x)), 6)
0.001
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from isplab.errors import IsplabError
from isplab.losses.registry import check_pair, register_loss
from isplab.models.ops import sobel_kernels

#: MPRNet's 5-tap separable low-pass filter.
_MPRNET_TAPS = (0.05, 0.25, 0.4, 0.25, 0.05)


def depthwise_filter(x: Tensor, kernels: Tensor) -> Tensor:
    """Apply each of ``kernels`` ``(K, kh, kw)`` to every channel of ``x`` ``(N, C, H, W)`` with replicate padding.

    Returns ``(N, C * K, H, W)`` (channel-major: the K responses of channel 0 first).
    """
    k, kh, kw = kernels.shape
    c = x.shape[1]
    padded = F.pad(x, (kw // 2, kw // 2, kh // 2, kh // 2), mode="replicate")
    weight = kernels.to(x.dtype).unsqueeze(1).repeat(c, 1, 1, 1)
    return F.conv2d(padded, weight, groups=c)


def laplacian_level(x: Tensor, kernel: Tensor) -> Tensor:
    """MPRNet's band-pass: ``x - G(4 * zero-insert(G(x)[::2, ::2]))``; ``kernel`` ``(1, 5, 5)``."""
    blurred = depthwise_filter(x, kernel)
    upsampled = torch.zeros_like(blurred)
    upsampled[..., ::2, ::2] = 4 * blurred[..., ::2, ::2]
    return x - depthwise_filter(upsampled, kernel)


@register_loss("edge")
class EdgeLoss(nn.Module):
    """Charbonnier loss between edge maps (MPRNet Laplacian by default, or Sobel gradients)."""

    def __init__(self, mode: str = "laplacian", eps: float = 1e-3) -> None:
        super().__init__()
        if mode not in ("laplacian", "sobel"):
            raise IsplabError(f"edge loss mode must be 'laplacian' or 'sobel', got {mode!r}")
        if eps <= 0:
            raise IsplabError(f"edge loss eps must be > 0 (it keeps the gradient finite at 0), got {eps}")
        self.mode, self.eps = mode, float(eps)
        taps = torch.tensor(_MPRNET_TAPS)
        kernel = torch.outer(taps, taps).unsqueeze(0) if mode == "laplacian" else sobel_kernels()
        self.register_buffer("kernel", kernel, persistent=False)

    def edges(self, x: Tensor) -> Tensor:
        """Edge map of ``x`` ``(N, C, H, W)``: ``(N, C, H, W)`` (laplacian) or ``(N, 2C, H, W)`` (sobel)."""
        return laplacian_level(x, self.kernel) if self.mode == "laplacian" else depthwise_filter(x, self.kernel)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        return torch.sqrt((self.edges(pred) - self.edges(target)).pow(2) + self.eps**2).mean()

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, eps={self.eps}"
