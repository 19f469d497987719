"""Rainbow (report section 4.9, Fig. 11): AWBUnet, a UNet with a global RGB gain module."""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model


class _DoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1), nn.ReLU()
        )


class RGBGain(nn.Module):
    """Global average pool -> 3 fully connected layers -> 5 gains in (0, 2), as ``(N, 5, 1, 1)``.

    Gains 0-1 scale R and G (white balance; B is the reference), gains 2-4 scale R, G, B (brightness).
    The last layer starts at zero so every gain starts at exactly 1. ``(N, C, h, w) -> (N, 5, 1, 1)``.
    The fully connected layers are 1x1 convs on the pooled ``(N, C, 1, 1)`` map (the same maths): a
    dense layer on a flattened ``(N, C)`` vector and rank-2 slicing of its gains fall back to the CPU on
    the mobile GPU delegate, rank-4 tensors do not.
    """

    def __init__(self, channels: int, hidden: int = 64):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
            nn.Conv2d(hidden, 5, 1),
        )
        nn.init.zeros_(self.mlp[-1].weight)
        nn.init.zeros_(self.mlp[-1].bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return 2.0 * torch.sigmoid(self.mlp(features.mean(dim=(2, 3), keepdim=True)))

    @staticmethod
    def scale(rgb: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
        """Scale ``rgb`` ``(N, 3, H, W)`` by white-balance (R, G) then brightness (R, G, B) gains ``(N, 5, 1, 1)``."""
        wb = gains[:, :2] * gains[:, 2:4]  # (N, 2, 1, 1): R and G, white balance x brightness
        return rgb * torch.cat([wb, gains[:, 4:]], dim=1)


class AWBUnet(nn.Module):
    """UNet (max-pool down, 2x2 transposed-conv up, concat skips) + :class:`RGBGain` on the bottleneck.

    The UNet ends in a 3x3 conv to 12 channels + depth_to_space (linear output); the gains, predicted
    from the globally pooled bottleneck features, then rescale it. Input ``(N, 4, h, w)`` with ``h, w``
    divisible by ``2 ** (len(widths) - 1)``.
    """

    def __init__(self, widths: tuple[int, ...] = (12, 24, 48, 96), hidden: int = 64):
        super().__init__()
        self.encoders = nn.ModuleList(
            [_DoubleConv(c_in, c_out) for c_in, c_out in zip((4, *widths[:-1]), widths, strict=True)]
        )
        self.pool = nn.MaxPool2d(2)
        skips = widths[-2::-1]
        self.ups = nn.ModuleList(
            [nn.ConvTranspose2d(c_in, c, 2, stride=2) for c_in, c in zip(widths[:0:-1], skips, strict=True)]
        )
        self.decoders = nn.ModuleList([_DoubleConv(2 * c, c) for c in skips])
        self.tail = nn.Conv2d(widths[0], 3 * 4, 3, padding=1)
        self.gain = RGBGain(widths[-1], hidden)

    def forward(
        self, x: torch.Tensor, return_gains: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """RGB ``(N, 3, 2h, 2w)``; with ``return_gains`` also the ``(N, 5)`` gains."""
        skips = []
        for level, encoder in enumerate(self.encoders):
            x = encoder(self.pool(x) if level else x)
            skips.append(x)
        y = skips.pop()
        gains = self.gain(y)
        for up, decoder in zip(self.ups, self.decoders, strict=True):
            y = decoder(torch.cat([up(y), skips.pop()], dim=1))
        rgb = RGBGain.scale(depth_to_space(self.tail(y), 2), gains)
        return (rgb, gains.flatten(1)) if return_gains else rgb


@register_model("awbunet", recipe="rainbow", input_multiple=8)
def awbunet(widths: tuple[int, ...] = (12, 24, 48, 96), hidden: int = 64) -> nn.Module:
    """Rainbow AWBUnet: UNet plus a GAP + 3-FC RGB gain module for white balance and brightness.

    Report section 4.9 gives the UNet, the gain module (GAP + 3 FC) and what it adjusts (R, G white
    balance; R, G, B brightness). Assumed: 4-level UNet 12/24/48/96, gains in (0, 2) from the pooled
    bottleneck, applied as products on the output; widths chosen for Table 1 (1.0 MB): 0.28M params,
    1.13 MB fp32. Packed input sides must be multiples of 8.
    """
    return AWBUnet(tuple(widths), hidden)

