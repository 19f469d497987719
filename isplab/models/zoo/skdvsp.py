"""SKD-VSP (report section 4.10, Fig. 12): IFSNet, two EDSR networks on Haar wavelet bands.

The challenge TFLite "Failed" on the phone GPU. This version exports cleanly: every tensor is rank 4,
the DWT/IDWT are the fixed-conv :class:`~isplab.models.blocks.HaarDWT` / ``HaarIDWT`` blocks and the
only upsampling is TF-order depth_to_space.
"""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.blocks import HaarDWT, HaarIDWT, ResidualBlock
from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model


class EDSRBranch(nn.Module):
    """EDSR body without upsampling: head conv, ``n_blocks`` residual blocks, conv, long skip, tail conv.

    Predicts a residual on its wavelet bands: ``(N, bands, h, w) -> (N, bands, h, w)``.
    """

    def __init__(self, bands: int, channels: int, n_blocks: int):
        super().__init__()
        self.head = nn.Conv2d(bands, channels, 3, padding=1)
        self.body = nn.Sequential(
            *[ResidualBlock(channels) for _ in range(n_blocks)], nn.Conv2d(channels, channels, 3, padding=1)
        )
        self.tail = nn.Conv2d(channels, bands, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(x)
        return x + self.tail(y + self.body(y))


class IFSNet(nn.Module):
    """Stem -> Haar DWT -> low (LL) and high (LH, HL, HH) EDSR branches -> inverse Haar DWT.

    The stem (3x3 conv to 12 channels + depth_to_space) lifts the packed raw ``(N, 4, h, w)`` to a
    3-channel ``(N, 3, 2h, 2w)`` image, whose DWT gives the report's LL ``(N, 3, h, w)`` and detail
    ``(N, 9, h, w)`` bands. Any packed size works (the DWT halves an even full-resolution side).
    """

    def __init__(
        self, low_channels: int = 256, low_blocks: int = 16, high_channels: int = 64, high_blocks: int = 8
    ):
        super().__init__()
        self.stem = nn.Conv2d(4, 3 * 4, 3, padding=1)
        self.dwt = HaarDWT(3)
        self.low = EDSRBranch(3, low_channels, low_blocks)
        self.high = EDSRBranch(9, high_channels, high_blocks)
        self.idwt = HaarIDWT(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bands = self.dwt(depth_to_space(self.stem(x), 2))
        return self.idwt(torch.cat([self.low(bands[:, :3]), self.high(bands[:, 3:])], dim=1))


@register_model("ifsnet", recipe="skd_vsp")
def ifsnet(
    low_channels: int = 256, low_blocks: int = 16, high_channels: int = 64, high_blocks: int = 8
) -> nn.Module:
    """SKD-VSP IFSNet: Haar DWT, EDSR on LL (16x256) and on the detail bands (8x64), inverse DWT.

    Report section 4.10 gives the split and both EDSR sizes, which alone give Table 1's size (78.9 MB):
    20.1M params, 80.5 MB fp32. Assumed: a learned stem (conv + depth_to_space) producing the 3-channel
    image the DWT splits, and band-residual outputs. GPU-exportable (rank-4, fixed-conv DWT/IDWT).
    """
    return IFSNet(low_channels, low_blocks, high_channels, high_blocks)
