"""MiAlgo, track 2 (report section 4.1, Fig. 3 right): a 4-level UNet with RCAN residual groups.

The track-1 three-conv model lives with the baselines; only the fidelity-track UNet is here.
"""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.blocks import ResidualGroup
from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model


class MiAlgoUNet(nn.Module):
    """UNet whose per-level conv stacks are RCAN residual groups without channel attention.

    Encoder: head conv, then per level a residual group; 2x2 average pooling + 3x3 conv widen between
    levels. Decoder: 2x2 stride-2 transposed conv ("deconvolution"), concat with the skip, 3x3 conv,
    residual group. A 3x3 conv to 12 channels + depth_to_space gives full-resolution RGB (linear output).
    Input ``(N, 4, h, w)`` with ``h, w`` divisible by ``2 ** (len(channels) - 1)``.
    """

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128, 256), n_blocks: int = 14):
        super().__init__()
        self.head = nn.Conv2d(4, channels[0], 3, padding=1)
        self.encoders = nn.ModuleList([ResidualGroup(c, n_blocks, attention=False) for c in channels])
        self.downs = nn.ModuleList(
            [
                nn.Sequential(nn.AvgPool2d(2), nn.Conv2d(c_in, c_out, 3, padding=1))
                for c_in, c_out in zip(channels[:-1], channels[1:], strict=True)
            ]
        )
        self.ups = nn.ModuleList(
            [
                nn.ConvTranspose2d(c_in, c_out, 2, stride=2)
                for c_in, c_out in zip(channels[:0:-1], channels[-2::-1], strict=True)
            ]
        )
        self.merges = nn.ModuleList([nn.Conv2d(2 * c, c, 3, padding=1) for c in channels[-2::-1]])
        self.decoders = nn.ModuleList([ResidualGroup(c, n_blocks, attention=False) for c in channels[-2::-1]])
        self.tail = nn.Conv2d(channels[0], 3 * 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(x)
        skips = []
        for level, encoder in enumerate(self.encoders):
            if level:
                y = self.downs[level - 1](y)
            y = encoder(y)
            skips.append(y)
        skips.pop()  # the bottleneck output is ``y`` itself
        for up, merge, decoder in zip(self.ups, self.merges, self.decoders, strict=True):
            y = decoder(merge(torch.cat([up(y), skips.pop()], dim=1)))
        return depth_to_space(self.tail(y), 2)


@register_model("mialgo_unet", recipe="mialgo_t2", input_multiple=8)
def mialgo_unet(channels: tuple[int, ...] = (32, 64, 128, 256), n_blocks: int = 14) -> nn.Module:
    """MiAlgo track 2: 4-level UNet (32/64/128/256) with RCAN residual groups, avg-pool down, deconv up.

    Report section 4.1 gives the levels, widths, pooling, deconvolution and "RG without channel
    attention"; it does not give the depth. Assumed: one residual group per encoder/decoder level (7 in
    all), each with ``n_blocks=14`` EDSR blocks, chosen so the size matches Table 1 (117 MB): 29.3M
    params, 117.2 MB fp32. Packed input sides must be multiples of 8.
    """
    return MiAlgoUNet(tuple(channels), n_blocks)

