"""Residual blocks: RCAB / ResidualBlock, RCAN ResidualGroup, RFDN's SRB and RFDB."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from isplab.models.blocks.act import make_activation
from isplab.models.blocks.attention import ESA, ChannelAttention
from isplab.models.blocks.reparam_blocks import identity_kernel


class ResidualBlock(nn.Module):
    """``x + [CA](conv(relu(conv(x))))``: EDSR residual block, or RCAN's RCAB when ``attention=True``.

    No BatchNorm (EDSR/RCAN). Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, kernel_size: int = 3, attention: bool = False, reduction: int = 16):
        super().__init__()
        p = kernel_size // 2
        layers: list[nn.Module] = [
            nn.Conv2d(channels, channels, kernel_size, padding=p),
            nn.ReLU(inplace=False),
            nn.Conv2d(channels, channels, kernel_size, padding=p),
        ]
        if attention:
            layers.append(ChannelAttention(channels, reduction))
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResidualGroup(nn.Module):
    """RCAN residual group: ``n_blocks`` residual blocks -> 3x3 conv, plus a long skip.

    ``attention=False`` gives MiAlgo's "RG without channel attention". ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, n_blocks: int, attention: bool = True, reduction: int = 16):
        super().__init__()
        blocks = [ResidualBlock(channels, 3, attention, reduction) for _ in range(n_blocks)]
        self.body = nn.Sequential(*blocks, nn.Conv2d(channels, channels, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRB(nn.Module):
    """RFDN shallow residual block ``act(conv3x3(x) + x)``; ``reparameterize()`` folds the identity.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, act: str = "lrelu"):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.act = make_activation(act, channels)
        self.fused = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.act(y if self.fused else y + x)

    @torch.no_grad()
    def reparameterize(self) -> None:
        if not self.fused:
            self.conv.weight.add_(identity_kernel(self.conv.in_channels, 3).to(self.conv.weight))
            self.fused = True


class RFDB(nn.Module):
    """Residual feature distillation block (RFDN, Liu et al. 2020) with a pluggable attention.

    Three stages each split the features into a distilled 1x1 branch (``dc = distill_ratio * C``
    channels) and a refined SRB branch; a last 3x3 conv reduces the third refined map to ``dc``; the four
    ``dc`` maps are concatenated, fused by a 1x1 conv back to ``C`` and passed through ``attention(C)``
    (RFDN: :class:`ESA`; RFD-CSA: :class:`~isplab.models.blocks.attention.CSA`; ``None``: no attention).
    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(
        self,
        channels: int,
        distill_ratio: float = 0.5,
        attention: Callable[[int], nn.Module] | None = ESA,
        act: str = "lrelu",
    ):
        super().__init__()
        dc = max(1, int(channels * distill_ratio))
        self.distill = nn.ModuleList([nn.Conv2d(channels, dc, 1) for _ in range(3)])
        self.refine = nn.ModuleList([SRB(channels, act) for _ in range(3)])
        self.last = nn.Conv2d(channels, dc, 3, padding=1)
        self.fuse = nn.Conv2d(4 * dc, channels, 1)
        self.act = make_activation(act, channels)
        self.attention = attention(channels) if attention is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distilled = []
        for distill, refine in zip(self.distill, self.refine, strict=True):
            distilled.append(self.act(distill(x)))
            x = refine(x)
        distilled.append(self.act(self.last(x)))
        return self.attention(self.fuse(torch.cat(distilled, dim=1)))
