"""CASIA 1st (report section 4.6, Fig. 8): AA-UNet teacher and attention-inception student.

Both networks share one PUNET-style UNet; they differ only in the attention module applied to each
decoder level. Because the modules keep their input shape, teacher and student features pair level by
level for feature distillation::

    rgb_t, feats_t = teacher(x, return_features=True)   # teacher frozen
    rgb_s, feats_s = student(x, return_features=True)
    loss = sum(F.l1_loss(s, t.detach()) for s, t in zip(feats_s, feats_t)) + image_losses(rgb_s, y)

Features come finest first: ``feats[0]`` is level 1 (packed resolution, ``base`` channels), ``feats[k]``
is level ``k + 1`` at ``1 / 2**k`` of it with ``base * 2**k`` channels.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from isplab.models.blocks import CBAM, ECA, ChannelAttention
from isplab.models.registry import register_model

_SLOPE = 0.2  # tf.nn.leaky_relu default, as PUNET


class _DoubleConv(nn.Sequential):
    """PUNET ``_conv_multi_block`` with 3x3 kernels only: two conv + leaky ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, 3, padding=1),
            nn.LeakyReLU(_SLOPE),
            nn.Conv2d(c_out, c_out, 3, padding=1),
            nn.LeakyReLU(_SLOPE),
        )


class _SameTransposedConv(nn.ConvTranspose2d):
    """3x3 stride-2 transposed conv with exact 2x output: ``ConvTranspose2d(padding=1, output_padding=1)``.

    Computed as the unpadded transposed conv (``2h + 1`` rows) minus its first row and column, which is
    the same tensor: litert-torch cannot legalise a transposed conv with ``output_padding`` (mhlo
    convolution with asymmetric padding), while this lowers to TRANSPOSE_CONV + SLICE (GPU-supported).
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__(c_in, c_out, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        return F.conv_transpose2d(x, self.weight, self.bias, stride=2)[..., 1:, 1:]


class _Upsample(nn.Sequential):
    """PUNET up-step: 3x3 stride-2 transposed conv (exact 2x) + leaky ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(_SameTransposedConv(c_in, c_out), nn.LeakyReLU(_SLOPE))


class SelfAttention(nn.Module):
    """SAGAN-style non-local self-attention: ``x + gamma * softmax(q k^T / sqrt(d)) v``.

    Query/key are 1x1 convs to ``C / reduction`` channels, value a 1x1 conv to ``C``; ``gamma`` starts at
    0 so the block begins as identity. The attention matrix is ``(N, HW, HW)``, built with rank-3 batched
    matmuls: memory grows with ``(HW)**2``, so this is a training-time (teacher) module for patches.
    """

    def __init__(self, channels: int, reduction: int = 8):
        super().__init__()
        inner = max(1, channels // reduction)
        self.scale = inner**-0.5
        self.query = nn.Conv2d(channels, inner, 1)
        self.key = nn.Conv2d(channels, inner, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        q = self.query(x).reshape(n, -1, h * w).transpose(1, 2)  # (N, HW, d)
        k = self.key(x).reshape(n, -1, h * w)  # (N, d, HW)
        attn = torch.softmax(torch.bmm(q, k) * self.scale, dim=-1)  # (N, HW, HW)
        v = self.value(x).reshape(n, c, h * w)  # (N, C, HW)
        out = torch.bmm(v, attn.transpose(1, 2)).reshape(n, c, h, w)
        return x + self.gamma * out


class AttentionInception(nn.Module):
    """CBAM, ECA and SE channel attention in parallel, concatenated and fused by a 1x1 conv, plus skip.

    Same ``(N, C, H, W) -> (N, C, H, W)`` contract as :class:`SelfAttention` at linear cost. The report
    names "CBAM, ECA and SEA"; SEA is read as squeeze-and-excitation attention.
    """

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.branches = nn.ModuleList(
            [CBAM(channels, reduction), ECA(channels), ChannelAttention(channels, reduction)]
        )
        self.fuse = nn.Conv2d(3 * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(torch.cat([branch(x) for branch in self.branches], dim=1))


class AAUNet(nn.Module):
    """PUNET topology (5 levels, max-pool down, transposed-conv up) with attention on decoder levels 1-4.

    Level ``l`` has ``base * 2**(l-1)`` channels; level 5 is the bottleneck with PUNET's four blocks (two
    with residual skips). Each decoder level: up-step, concat skip, double conv, ``attention(channels)``.
    Output: transposed conv to full resolution, 3x3 conv, ``tanh * 0.58 + 0.5`` (PUNET's head).
    Input ``(N, 4, h, w)`` with ``h, w`` divisible by 16.
    """

    def __init__(self, attention: Callable[[int], nn.Module], base: int = 48):
        super().__init__()
        widths = [base * 2**i for i in range(5)]
        self.encoders = nn.ModuleList(
            [_DoubleConv(c_in, c_out) for c_in, c_out in zip([4, *widths[:3]], widths[:4], strict=True)]
        )
        self.bottleneck = nn.ModuleList(
            [_DoubleConv(widths[3], widths[4])] + [_DoubleConv(widths[4], widths[4]) for _ in range(3)]
        )
        # Decoder lists run deepest first (level 4 -> level 1).
        self.ups = nn.ModuleList([_Upsample(widths[i + 1], widths[i]) for i in range(3, -1, -1)])
        self.decoders = nn.ModuleList([_DoubleConv(2 * widths[i], widths[i]) for i in range(3, -1, -1)])
        self.attentions = nn.ModuleList([attention(widths[i]) for i in range(3, -1, -1)])
        self.head = nn.Sequential(
            _Upsample(widths[0], max(1, base // 4)), nn.Conv2d(max(1, base // 4), 3, 3, padding=1)
        )

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        """RGB ``(N, 3, 2h, 2w)``; with ``return_features`` also the level-1..4 attention outputs."""
        skips = []
        y = x
        for level, encoder in enumerate(self.encoders):
            y = encoder(F.max_pool2d(y, 2) if level else y)
            skips.append(y)
        y = self.bottleneck[0](F.max_pool2d(y, 2))
        y = self.bottleneck[1](y) + y
        y = self.bottleneck[2](y) + y
        y = self.bottleneck[3](y)
        features = []
        for up, decoder, attention in zip(self.ups, self.decoders, self.attentions, strict=True):
            y = attention(decoder(torch.cat([skips.pop(), up(y)], dim=1)))
            features.append(y)
        rgb = torch.tanh(self.head(y)) * 0.58 + 0.5
        return (rgb, features[::-1]) if return_features else rgb


@register_model("casia_teacher", recipe="casia_teacher", input_multiple=16)
def casia_teacher(base: int = 48) -> nn.Module:
    """CASIA 1st teacher: AA-UNet (PUNET + self-attention per decoder level), exposes level features.

    Report section 4.6: PUNET-based UNet with a self-attention module; losses on levels 1-4. Assumed:
    PUNET's 5-level topology (3x3 blocks only), a SAGAN self-attention after each decoder level 1-4, and
    ``base=48`` channels (PUNET uses 16) so the size matches Table 1 (205 MB): 51.5M params, 206 MB fp32.
    The submitted 205 MB TFLite was presumably the student (full-resolution self-attention cannot run on
    a phone); both are ~the same size. ``forward(x, return_features=True)`` -> ``(rgb, [f1, f2, f3, f4])``.
    Packed input sides must be multiples of 16; self-attention memory grows with (h*w)**2.
    """
    return AAUNet(SelfAttention, base)


@register_model("casia_student", recipe="casia", input_multiple=16)
def casia_student(base: int = 48) -> nn.Module:
    """CASIA 1st student: the AA-UNet with attention-inception (CBAM+ECA+SE) replacing self-attention.

    Report section 4.6: same network as the teacher, each self-attention replaced by CBAM, ECA and SE
    attention in parallel (fused by concat + 1x1 conv, assumed). Same widths as :func:`casia_teacher`
    so features pair for distillation: 51.9M params, 208 MB fp32 (Table 1: 205 MB).
    ``forward(x, return_features=True)`` -> ``(rgb, [f1, f2, f3, f4])``. Packed sides: multiples of 16.
    """
    return AAUNet(AttentionInception, base)

