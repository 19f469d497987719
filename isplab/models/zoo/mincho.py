"""MINCHO Mobile-Smallnet (report section 4.5, Fig. 7): a depthwise-separable feature extractor + Smallnet.

Report: part 1 extracts features with a convolution block with ReLU, depthwise convolution blocks,
pointwise convolution blocks with ReLU and a skip connection; part 2 is the Smallnet ISP (MAI 2021
winner: three convolutions and a pixel shuffle).

Assumed: conv3x3 4->32 + ReLU, then four (depthwise 3x3 -> pointwise 1x1 + ReLU) pairs, the skip adding
the first conv's output to the last pair's; Smallnet = :class:`~isplab.models.smallnet.SmallNet` with
16 hidden channels (tanh / ReLU / ReLU) on the 32 features and TF-order depth_to_space for the pixel
shuffle. Parameters: 15,372 = 0.061 MB fp32 vs 0.067 MB in the report's Table 1.
"""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.cards import register_shipped
from isplab.models.registry import register_model
from isplab.models.smallnet import SmallNet


class DepthwiseSeparable(nn.Module):
    """Depthwise 3x3 (no activation) -> pointwise 1x1 -> ReLU. ``(N, C, H, W) -> (N, C, H, W)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.depthwise = nn.Conv2d(channels, channels, 3, padding=1, groups=channels)
        self.pointwise = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.pointwise(self.depthwise(x)))


class MobileSmallnet(nn.Module):
    """Packed raw ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)``."""

    def __init__(self, channels: int = 32, n_separable: int = 4, isp_channels: int = 16):
        super().__init__()
        self.stem = nn.Conv2d(4, channels, 3, padding=1)
        self.features = nn.Sequential(*[DepthwiseSeparable(channels) for _ in range(n_separable)])
        self.isp = SmallNet(isp_channels, in_channels=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stem = torch.relu(self.stem(x))
        return self.isp(self.features(stem) + stem)


@register_model("mincho_mobile_smallnet", recipe="mincho")
def mincho_mobile_smallnet(channels: int = 32, n_separable: int = 4) -> MobileSmallnet:
    """MINCHO Mobile-Smallnet: conv + 4 depthwise-separable blocks + skip, then Smallnet (report: 0.067 MB)."""
    return MobileSmallnet(channels, n_separable)


register_shipped("mincho_mobile_smallnet")
