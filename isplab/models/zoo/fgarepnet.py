"""Multimedia FGARepNet (report section 4.2, Fig. 4): eRepConv everywhere, fine-granularity attention.

Report: every conv is an eRepConv (multi-branch, fused to one conv for inference); a second eRepConv
produces a fine-granularity spatial attention (one weight per pixel *and* channel) with an extra
learnable bias, and a channel attention (CA) at the end of the network helps it converge.

Assumed (Fig. 4 is not in the text): head eRepConv 5x5 4->12 + ReLU; two blocks of
``f = ReLU(eRepConv3x3(x) + x)``, ``f * (sigmoid(eRepConv3x3(f)) + beta)`` with a per-channel learnable
``beta`` (the "bias"); a global skip from the head; RCAN CA (reduction 4); eRepConv3x3 12->12 and
depth_to_space(2). No BatchNorm. Inference (fused) parameters: 7,863 = 0.031 MB fp32 vs 0.029 MB in the
report's Table 1 (the training-time model has 26,859).
"""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.blocks import ChannelAttention, ERepConv
from isplab.models.cards import register_shipped
from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model


class FineGrainedAttention(nn.Module):
    """``x * (sigmoid(eRepConv(x)) + beta)``: a gate per pixel and channel plus a learnable bias.

    Cheaper on mobile GPUs than CBAM's pooled spatial attention (no reductions). ``(N, C, H, W)`` in/out.
    """

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.gate = ERepConv(channels, channels, kernel_size)
        self.beta = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (torch.sigmoid(self.gate(x)) + self.beta)


class FGABlock(nn.Module):
    """eRepConv (+ identity branch) + ReLU, then fine-granularity attention. ``(N, C, H, W)`` in/out."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv = ERepConv(channels, channels, kernel_size, act="relu", with_idt=True)
        self.attention = FineGrainedAttention(channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(self.conv(x))


class FGARepNet(nn.Module):
    """Packed raw ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)``; call ``reparameterize`` before export."""

    def __init__(
        self, channels: int = 12, n_blocks: int = 2, kernel_size: int = 3, head_kernel_size: int = 5,
        reduction: int = 4,
    ):
        super().__init__()
        self.head = ERepConv(4, channels, head_kernel_size, act="relu")
        self.body = nn.Sequential(*[FGABlock(channels, kernel_size) for _ in range(n_blocks)])
        self.channel_attention = ChannelAttention(channels, reduction)
        self.tail = ERepConv(channels, 12, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        y = self.channel_attention(self.body(h) + h)
        return depth_to_space(self.tail(y), 2)


@register_model("fgarepnet", recipe="multimedia")
def fgarepnet(channels: int = 12, n_blocks: int = 2) -> FGARepNet:
    """Multimedia FGARepNet: eRepConv + fine-granularity attention + CA (7,863 fused params, report 0.029 MB)."""
    return FGARepNet(channels, n_blocks)


register_shipped("fgarepnet")
