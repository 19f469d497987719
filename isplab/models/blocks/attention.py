"""Attention blocks: channel (RCAN/SE, ECA), spatial (CBAM), CBAM, ESA (RFDN) and CSA (RFD-CSA).

All map ``(N, C, H, W) -> (N, C, H, W)`` by rescaling the input with a sigmoid gate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ChannelAttention(nn.Module):
    """RCAN / squeeze-excitation channel attention.

    Global average pool -> 1x1 conv (C -> C/r) -> ReLU -> 1x1 conv (C/r -> C) -> sigmoid -> ``x * gate``.
    With ``use_max=True`` the same MLP also sees the global max pool and the two are summed before the
    sigmoid (CBAM's channel attention). Shapes: ``(N, C, H, W) -> (N, C, H, W)``; gate ``(N, C, 1, 1)``.
    """

    def __init__(self, channels: int, reduction: int = 16, use_max: bool = False):
        super().__init__()
        mid = max(1, channels // reduction)
        self.use_max = use_max
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, mid, 1), nn.ReLU(inplace=False), nn.Conv2d(mid, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.mlp(x.mean(dim=(2, 3), keepdim=True))
        if self.use_max:
            logits = logits + self.mlp(x.amax(dim=(2, 3), keepdim=True))
        return x * torch.sigmoid(logits)


class SpatialAttention(nn.Module):
    """CBAM spatial attention: channel mean & max ``(N, 2, H, W)`` -> kxk conv -> sigmoid -> ``x * gate``.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``; gate ``(N, 1, H, W)``. ``bias=False`` matches Keras CBAMs
    (e.g. JMU-CVLab's) whose spatial conv has no bias.
    """

    def __init__(self, kernel_size: int = 7, bias: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Module):
    """CBAM (Woo et al. 2018): channel attention (avg + max pooled shared MLP), then spatial attention.

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7, spatial_bias: bool = True):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction, use_max=True)
        self.spatial = SpatialAttention(kernel_size, bias=spatial_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class ECA(nn.Module):
    """Efficient channel attention: global avg pool -> 1-D conv (size ``k_size``) across channels -> sigmoid.

    The 1-D conv is a ``(1, k)`` Conv2d over the pooled vector laid out as ``(N, 1, 1, C)`` so exports stay
    rank 4. Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, k_size: int = 3):
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(1, 1, (1, k_size), padding=(0, k_size // 2), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        y = self.conv(x.mean(dim=(2, 3)).reshape(n, 1, 1, c))
        return x * torch.sigmoid(y.reshape(n, c, 1, 1))


class ESA(nn.Module):
    """Enhanced spatial attention of RFDN (Liu et al. 2020), the attention at the end of an RFDB.

    1x1 reduce (C -> C/r) -> strided 3x3 -> 7x7/3 max pool -> three 3x3 convs -> bilinear upsample
    -> + 1x1 of the reduced map -> 1x1 expand -> sigmoid -> ``x * gate``.
    Shapes: ``(N, C, H, W) -> (N, C, H, W)`` with ``H, W >= 3``; the pool window shrinks on tiny maps.
    """

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        f = max(1, channels // reduction)
        self.conv1 = nn.Conv2d(channels, f, 1)
        self.conv_f = nn.Conv2d(f, f, 1)
        self.conv2 = nn.Conv2d(f, f, 3, stride=2)
        self.conv_max = nn.Conv2d(f, f, 3, padding=1)
        self.conv3 = nn.Conv2d(f, f, 3, padding=1)
        self.conv3_ = nn.Conv2d(f, f, 3, padding=1)
        self.conv4 = nn.Conv2d(f, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c1_ = self.conv1(x)
        c1 = self.conv2(c1_)
        k = min(7, c1.shape[-2], c1.shape[-1])
        v = F.relu(self.conv_max(F.max_pool2d(c1, kernel_size=k, stride=3)))
        c3 = self.conv3_(F.relu(self.conv3(v)))
        c3 = F.interpolate(c3, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return x * torch.sigmoid(self.conv4(c3 + self.conv_f(c1_)))


class CSA(nn.Module):
    """Channel-spatial attention of RFD-CSA (HITZST01), replacing the RFDB's CCA/ESA layer.

    The report only names the block; assumed: SE channel attention (avg pool) followed by CBAM-style
    spatial attention. Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, reduction: int = 4, kernel_size: int = 7):
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))
