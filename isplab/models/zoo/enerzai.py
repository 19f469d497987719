"""ENERZAi (report section 4.3, Fig. 5): a UNet/hourglass search space with channel attention.

Report: the team built a search space around UNet and Hourglass designs with RCAN channel attention
and searched it with an evolutionary algorithm penalising latency (track 1); track 2 dropped the
penalty, giving more layers and channels. The search itself lives elsewhere: here the space is the
typed, immutable :class:`EnerzaiConfig` (mutate with :func:`dataclasses.replace`), built by
:class:`EnerzaiNet`, plus the two submitted points.

Assumed (Fig. 5 is not in the text): per level a stack of 3x3 conv + ReLU (encoder and decoder),
optionally ending in channel attention; 2x2 max-pool down; up by 1x1 conv + TF-order depth_to_space;
skips concatenated (UNet) or added (Hourglass), a search dimension; a 3x3 conv to 12 channels +
depth_to_space head (linear output). No BatchNorm. ``enerzai_t1``: widths 10/20/40 (3 levels), one conv
per stage, CA on the two lower levels, additive skips: 19,821 params = 0.079 MB fp32 vs 0.077 MB.
``enerzai_t2``: widths 24/48/96/192 (4 levels), two convs per stage, CA everywhere, concatenated skips:
1,102,782 params = 4.41 MB vs 4.5 MB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from isplab.models.blocks import ChannelAttention
from isplab.models.cards import register_shipped
from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model


@dataclass(frozen=True)
class LevelConfig:
    """One UNet level: stage width, conv counts of its encoder/decoder stages, channel attention flag."""

    width: int
    encoder_depth: int = 1
    decoder_depth: int = 1
    attention: bool = False


@dataclass(frozen=True)
class EnerzaiConfig:
    """The searchable architecture: levels from full (packed) resolution down to the bottleneck.

    The bottleneck (last level) has no decoder stage, so its ``decoder_depth`` is ignored.
    Inputs need ``h, w`` divisible by ``2 ** (len(levels) - 1)``.
    """

    levels: tuple[LevelConfig, ...] = field(default_factory=lambda: (LevelConfig(16), LevelConfig(32)))
    reduction: int = 8
    skip: Literal["concat", "add"] = "concat"

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError("EnerzaiConfig needs at least one level")
        for lv in self.levels:
            if lv.width < 1 or lv.encoder_depth < 1 or lv.decoder_depth < 1:
                raise ValueError(f"invalid level {lv}: width and depths must be >= 1")
        if self.skip not in ("concat", "add"):
            raise ValueError(f"skip must be 'concat' or 'add', got {self.skip!r}")


def _stage(in_ch: int, width: int, depth: int, attention: bool, reduction: int) -> nn.Sequential:
    """``depth`` x (3x3 conv + ReLU), then optional CA. ``(N, in, H, W) -> (N, width, H, W)``."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Conv2d(in_ch if i == 0 else width, width, 3, padding=1), nn.ReLU(inplace=False)]
    if attention:
        layers.append(ChannelAttention(width, reduction))
    return nn.Sequential(*layers)


class EnerzaiNet(nn.Module):
    """Packed raw ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)`` for any point of :class:`EnerzaiConfig`."""

    def __init__(self, config: EnerzaiConfig):
        super().__init__()
        self.config = config
        lv = config.levels
        self.encoders = nn.ModuleList(
            _stage(4 if i == 0 else lv[i - 1].width, L.width, L.encoder_depth, L.attention, config.reduction)
            for i, L in enumerate(lv)
        )
        # Up from level i+1 to level i: 1x1 conv to 4 * width_i, then depth_to_space.
        self.ups = nn.ModuleList(nn.Conv2d(lv[i + 1].width, 4 * lv[i].width, 1) for i in range(len(lv) - 1))
        merge = 2 if config.skip == "concat" else 1
        self.decoders = nn.ModuleList(
            _stage(merge * L.width, L.width, L.decoder_depth, L.attention, config.reduction) for L in lv[:-1]
        )
        self.head = nn.Conv2d(lv[0].width, 12, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, encoder in enumerate(self.encoders):
            x = encoder(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for i in reversed(range(len(self.decoders))):
            up = depth_to_space(self.ups[i](x), 2)
            x = torch.cat([up, skips[i]], dim=1) if self.config.skip == "concat" else up + skips[i]
            x = self.decoders[i](x)
        return depth_to_space(self.head(x), 2)


#: Track-1 point (latency-penalised search).
ENERZAI_T1 = EnerzaiConfig(
    levels=(LevelConfig(10), LevelConfig(20, attention=True), LevelConfig(40, attention=True)), skip="add"
)
#: Track-2 point (no latency penalty: deeper and wider).
ENERZAI_T2 = EnerzaiConfig(levels=tuple(LevelConfig(w, 2, 2, True) for w in (24, 48, 96, 192)))


@register_model("enerzai_t1", recipe="enerzai", input_multiple=4)
def enerzai_t1() -> EnerzaiNet:
    """ENERZAi track 1: latency-searched 3-level hourglass with channel attention (report: 0.077 MB)."""
    return EnerzaiNet(ENERZAI_T1)


@register_model("enerzai_t2", recipe="enerzai", input_multiple=8)
def enerzai_t2() -> EnerzaiNet:
    """ENERZAi track 2: 4-level UNet, two convs per stage, channel attention everywhere (report: 4.5 MB)."""
    return EnerzaiNet(ENERZAI_T2)


@register_model("enerzai", recipe="enerzai", input_multiple=8)
def enerzai(levels: list[dict] | None = None, reduction: int = 8, skip: str = "concat") -> EnerzaiNet:
    """ENERZAi search space: any point (``levels`` as LevelConfig field dicts), e.g. from ``isplab search``."""
    if levels is None:
        return EnerzaiNet(EnerzaiConfig(reduction=reduction, skip=skip))
    return EnerzaiNet(EnerzaiConfig(tuple(LevelConfig(**lv) for lv in levels), reduction, skip))


register_shipped("enerzai_t1")
