"""Three-convolution ISPs: the MAI 2021 winner and MiAlgo's MAI 2022 track-1 variant.

Both are ``conv3x3 -> tanh, conv3x3 -> relu, conv3x3 (12 ch) -> relu, depth_to_space(2)`` on the packed
raw, with zero ("same") padding. The reference is the Keras ``get_model`` of
gosha20777/few-shot-isp-domain-adaptation (``models/dh_isp.py``, MAI 2021 winner dh_isp); MiAlgo
(report section 4.1) narrowed the hidden layers from 16 to 12 channels.
"""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.cards import register_shipped
from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model


class SmallNet(nn.Module):
    """Packed raw ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)`` with three 3x3 convolutions.

    The last conv gives ``3 * 4`` channels that TensorFlow-order :func:`depth_to_space` turns into RGB,
    so Keras weights import without reshuffling. The output is a ReLU, not clipped to [0, 1].
    """

    def __init__(self, channels: int = 16, in_channels: int = 4, mid_channels: int | None = None):
        super().__init__()
        mid = channels if mid_channels is None else mid_channels  # a bottleneck second conv (RobustISP)
        self.conv1 = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, mid, 3, padding=1)
        self.conv3 = nn.Conv2d(mid, 12, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        return depth_to_space(x, 2)


@register_model("smallnet", recipe="smallnet")
def smallnet(channels: int = 16) -> SmallNet:
    """MAI 2021 winner (dh_isp): 3 convs, 16/16/12 channels, tanh/relu/relu, depth-to-space (4,652 params)."""
    return SmallNet(channels)


@register_model("mialgo_3conv", recipe="mialgo_3conv")
def mialgo_3conv(channels: int = 12) -> SmallNet:
    """MiAlgo MAI 2022 track 1: the 3-conv net narrowed to 12 channels (3,060 params, report 0.014 MB)."""
    return SmallNet(channels)


register_shipped("smallnet")
register_shipped("mialgo_3conv")
