"""Arhire & Timofte, "Learned Lightweight Smartphone ISP with Unpaired Data" (CVPRW 2025).

Their three architectures (``model.py`` of AndreiiArhire/Learned-Lightweight-Smartphone-ISP-with-Unpaired-
Data), with parameter names equal to theirs so their state dicts import 1:1 (:mod:`isplab.models.imports`):

* EfficientISP is ``mialgo_3conv`` (conv 4->12 tanh, 12->12 relu, 12->12 relu, 2x upsampling); only
  the upsampling's channel order differs (their PyTorch ``pixel_shuffle`` vs TensorFlow ``depth_to_space``
  here), which the importer absorbs by permuting the last conv's output channels.
* RobustISP: the same three convs with a 4-channel bottleneck, 4->16->4->12 (:func:`robustisp`).
* RMFA-Net: a full-resolution network on a 3-channel image that holds each photosite's value in its own
  colour plane and 1 elsewhere (their ``preprocess_raw_with_three_channel_split``), built here from the
  packed raw by one fixed 1x1 convolution and depth-to-space (:class:`RMFANet`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model
from isplab.models.smallnet import SmallNet


@register_model("robustisp", recipe="arhire")
def robustisp() -> SmallNet:
    """Arhire RobustISP (CVPRW 2025): 3 convs 4->16->4->12, tanh/relu/relu, depth-to-space (1,616 params)."""
    return SmallNet(16, mid_channels=4)


class ChannelAttention(nn.Module):
    """``x * sigmoid(mlp(avgpool x) + mlp(maxpool x))`` with a bias-free 1x1-conv MLP (their CBAM half)."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.ReLU(),
                                nn.Conv2d(hidden, channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.fc(x.mean(dim=(2, 3), keepdim=True)) + self.fc(x.amax(dim=(2, 3), keepdim=True))
        return torch.sigmoid(pooled) * x


class SpatialAttention(nn.Module):
    """``x * sigmoid(conv7x7([channel mean, channel max]))``."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stats = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(stats)) * x


class TextureModule(nn.Module):
    """Concat of a 1x1 conv ("high frequency") and a 3x3 conv ("low frequency") branch, each + ReLU."""

    def __init__(self, channels: int):
        super().__init__()
        self.high_freq = nn.Sequential(nn.Conv2d(channels, channels // 2, 1), nn.ReLU())
        self.low_freq = nn.Sequential(nn.Conv2d(channels, channels // 2, 3, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.high_freq(x), self.low_freq(x)], dim=1)


class ToneMappingModule(nn.Module):
    """Retinex split: an illumination estimate from two 2x-pooled levels, upsampled; returns ``x - it``.

    Their fallback resize (when the upsampled map misses ``x``'s size) never runs here: the registered
    input multiple keeps full-resolution sides divisible by 4.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.level1 = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.level2 = nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.level3 = nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())

    @staticmethod
    def _up(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.level1(x)
        x3 = self.level3(self.level2(x1))
        return x - self._up(x1 + self._up(x3))


class RMFABlock(nn.Module):
    """Texture and tone branches -> 3x3 fusion -> channel then spatial attention, plus the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.texture_module = TextureModule(channels)
        self.tone_mapping = ToneMappingModule(channels)
        self.fusion = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1), nn.ReLU())
        self.channel_attention = ChannelAttention(channels)
        self.spatial_attention = SpatialAttention()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        fused = self.fusion(torch.cat([self.texture_module(x), self.tone_mapping(x)], dim=1))
        return self.spatial_attention(self.channel_attention(fused)) + x


def _three_channel_split() -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``(12, 4, 1, 1)`` and bias ``(12,)`` of the 1x1 conv from canonical packed ``(B, G_r, R, G_b)``
    to the depth-to-space (DCR) input of their 3-channel split: at each 2x2 site ``(dy, dx)`` of the RGGB
    tile, its own colour plane holds the photosite value, the other two planes hold 1."""
    site_channel = {(0, 0): (0, 2), (0, 1): (1, 1), (1, 0): (1, 3), (1, 1): (2, 0)}  # (plane, packed channel)
    weight, bias = torch.zeros(12, 4, 1, 1), torch.ones(12)
    for (dy, dx), (plane, channel) in site_channel.items():
        out = (dy * 2 + dx) * 3 + plane
        weight[out, channel], bias[out] = 1.0, 0.0
    return weight, bias


class RMFANet(nn.Module):
    """Packed raw ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)`` in (0, 1) (sigmoid), ``h, w`` even.

    The 3-channel full-resolution input of the original is computed from the packed raw (a fixed 1x1 conv
    + depth-to-space, exact); then conv 3->width, conv width->width, tanh; ``num_blocks`` RMFA blocks;
    conv width->3, sigmoid.
    """

    def __init__(self, num_blocks: int = 2, width: int = 16):
        super().__init__()
        weight, bias = _three_channel_split()
        self.register_buffer("split_weight", weight, persistent=False)  # fixed: not in their state dict
        self.register_buffer("split_bias", bias, persistent=False)
        self.input_module = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.Conv2d(width, width, 3, padding=1),
                                          nn.Tanh())
        self.rmfa_blocks = nn.ModuleList([RMFABlock(width) for _ in range(num_blocks)])
        self.output_module = nn.Sequential(nn.Conv2d(width, 3, 3, padding=1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.input_module(depth_to_space(F.conv2d(x, self.split_weight, self.split_bias), 2))
        for block in self.rmfa_blocks:
            out = block(out)
        return self.output_module(out)


@register_model("rmfanet_tiny", recipe="arhire_rmfanet", input_multiple=2)
def rmfanet_tiny(num_blocks: int = 2, width: int = 16) -> RMFANet:
    """Arhire RMFA-Net tiny (CVPRW 2025): full-resolution retinex/texture blocks with CBAM, 2 blocks x 16.

    Their medium and large variants are ``num_blocks=8`` / ``20`` (and ``width=32`` / ``64``).
    """
    return RMFANet(num_blocks, width)
