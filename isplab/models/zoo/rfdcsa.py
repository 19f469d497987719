"""HITZST01 RFD-CSA (report section 4.4, Fig. 6; Wu et al., ECCVW 2022): ECB + RFDB with CSA.

Report: a Source Features module (re-parameterisable ECB/Conv3 of ECBSR), an Enhance Features module of
``n`` modified RFDBs (RFDN) whose CCA layer is replaced by a channel-spatial attention (CSA) block, with a
long residual connection, and an Upsample module with ECB/Conv3 blocks at its beginning and end.
``n = 2`` for track 1 (0.060 MB), ``n = 3`` for track 2 (1.2 MB).

Assumed: ECB with PReLU; RFDBs with distillation ratio 1/2 and LeakyReLU(0.05) (RFDN); CSA = SE
channel attention (reduction 4) then CBAM spatial attention (the paper's exact CSA is not in the
report); RFDN's aggregation (concat of the block outputs -> 1x1 -> LeakyReLU -> 3x3) before the long
residual; Upsample = ECB(C, C) -> 3x3 conv to 12 -> depth_to_space(2) -> linear ECB(3, 3) at full
resolution. Widths chosen for the size: 12 channels (track 1) and 48 (track 2). Inference (fused)
parameters: ``rfdcsa`` 15,372 = 0.061 MB (training: 22,047); ``rfdcsa_large`` 302,397 = 1.21 MB
(training: 399,216).
"""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.blocks import CSA, ECB, RFDB, make_activation
from isplab.models.cards import register_shipped
from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model


class RFDCSA(nn.Module):
    """Packed raw ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)``; call ``reparameterize`` before export."""

    def __init__(self, channels: int = 12, n_blocks: int = 2, csa_reduction: int = 4):
        super().__init__()
        self.source = ECB(4, channels)

        def attention(c: int) -> nn.Module:
            return CSA(c, reduction=csa_reduction)

        self.blocks = nn.ModuleList([RFDB(channels, 0.5, attention) for _ in range(n_blocks)])
        self.aggregate = nn.Sequential(
            nn.Conv2d(n_blocks * channels, channels, 1),
            make_activation("lrelu"),
            nn.Conv2d(channels, channels, 3, padding=1),
        )
        self.up_in = ECB(channels, channels, with_idt=True)
        self.up_conv = nn.Conv2d(channels, 12, 3, padding=1)
        self.up_out = ECB(3, 3, act="linear", with_idt=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        source = self.source(x)
        feats, y = [], source
        for block in self.blocks:
            y = block(y)
            feats.append(y)
        y = self.aggregate(torch.cat(feats, dim=1)) + source  # long residual
        return self.up_out(depth_to_space(self.up_conv(self.up_in(y)), 2))


@register_model("rfdcsa", recipe="hitzst01")
def rfdcsa(channels: int = 12) -> RFDCSA:
    """HITZST01 RFD-CSA track 1: ECB + 2 RFDB-CSA + ECB upsampler (15,372 fused params, report 0.060 MB)."""
    return RFDCSA(channels, n_blocks=2)


@register_model("rfdcsa_large", recipe="hitzst01")
def rfdcsa_large(channels: int = 48) -> RFDCSA:
    """HITZST01 RFD-CSA track 2: ECB + 3 RFDB-CSA + ECB upsampler, 48 channels (report: 1.2 MB)."""
    return RFDCSA(channels, n_blocks=3)


register_shipped("rfdcsa")
