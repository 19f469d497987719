"""Small tensor ops shared by the models."""

from __future__ import annotations

import torch
from torch import nn


def depth_to_space(x: torch.Tensor, block: int = 2) -> torch.Tensor:
    """TensorFlow ``depth_to_space`` (DCR channel order) on NCHW tensors.

    Input channel ``(by * block + bx) * C_out + c`` lands at output pixel offset ``(by, bx)``,
    channel ``c``. This differs from ``nn.PixelShuffle`` (CRD order, ``c * block**2 + by * block + bx``)
    and is what official TensorFlow models (MicroISP, PyNET-V2) use, so their weights import as-is.

    Args:
        x: ``(N, C * block**2, H, W)``.

    Returns:
        ``(N, C, H * block, W * block)``.
    """
    n, c, h, w = x.shape
    c_out = c // (block * block)
    x = x.reshape(n, block, block, c_out, h, w)
    x = x.permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c_out, h * block, w * block)


class DepthToSpace(nn.Module):
    """Module form of :func:`depth_to_space` (TensorFlow DCR order)."""

    def __init__(self, block: int = 2):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depth_to_space(x, self.block)
