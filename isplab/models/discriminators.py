"""Discriminators for adversarial training objectives (``unpaired``): registered by name, built by config.

A discriminator maps an image ``(N, C, H, W)`` to a map of real/fake logits ``(N, 1, h, w)``, one per
receptive-field patch (PatchGAN, Isola et al. 2017): small, fully convolutional, any input size. Unlike
the ISP models it is only a training aid: the objective owns it, it is saved in the run's checkpoints
(with its Adam state) and never exported.

>>> import torch
>>> d = create_discriminator("patch", in_channels=3)
>>> tuple(d(torch.zeros(2, 3, 64, 64)).shape)
(2, 1, 8, 8)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from isplab.registry import Entry, Registry

DISCRIMINATORS: Registry[Entry] = Registry("discriminator")


def register_discriminator(name: str) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a discriminator factory ``(in_channels, **kwargs) -> nn.Module`` under ``name``."""
    return DISCRIMINATORS.register(name)


def create_discriminator(name: str, **kwargs: Any) -> nn.Module:
    return DISCRIMINATORS.get(name).factory(**kwargs)


def list_discriminators() -> list[str]:
    return DISCRIMINATORS.names()


class PatchDiscriminator(nn.Sequential):
    """PatchGAN: ``layers`` stride-2 4x4 convolutions (width doubling from ``channels``, capped at 8x), a
    3x3 convolution and a 3x3 logit head; LeakyReLU(0.2), no normalisation (the R1 penalty of the
    objective regularises it). With 3 layers a logit sees a 46-pixel patch."""

    def __init__(self, in_channels: int = 3, channels: int = 32, layers: int = 3):
        widths = [channels * min(2 ** i, 8) for i in range(layers)]
        blocks: list[nn.Module] = []
        prev = in_channels
        for width in widths:
            blocks += [nn.Conv2d(prev, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            prev = width
        blocks += [nn.Conv2d(prev, prev, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(prev, 1, 3, padding=1)]
        super().__init__(*blocks)


@register_discriminator("patch")
def patch(in_channels: int = 3, channels: int = 32, layers: int = 3) -> nn.Module:
    """PatchGAN discriminator (real/fake logit per patch), 3 stride-2 layers of 32-128 channels."""
    return PatchDiscriminator(in_channels, channels, layers)


@register_discriminator("patch_small")
def patch_small(in_channels: int = 3, channels: int = 16, layers: int = 2) -> nn.Module:
    """A lighter PatchGAN (2 stride-2 layers of 16-32 channels) for low-resolution colour views."""
    return PatchDiscriminator(in_channels, channels, layers)


__all__ = ["DISCRIMINATORS", "PatchDiscriminator", "create_discriminator", "list_discriminators",
           "register_discriminator"]
