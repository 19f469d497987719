"""PyNET-V2 Mobile (Ignatov et al., 2022) as the official Keras ``model.py`` of gmalivenko/PyNET-v2.

Three levels on the packed raw ``(N, 4, h, w)``: level 1 at ``h x w`` (32 ch), level 2 at ``h/2``
(64 ch), level 3 at ``h/4`` (128 ch, reached by two 2x2 stride-2 convs). Level 3 runs grouped residual
blocks with instance norm, a spatial- and a channel-attention block; levels 2 and 1 add a bilinearly
upsampled copy of the level below, then 1x1 residual, grouped residual (and channel attention on
level 2). Every level has an RGB head ``tanh * 0.58 + 0.5`` via TensorFlow ``depth_to_space``:

* level 3 -> ``(N, 3, h/2, w/2)``, level 2 -> ``(N, 3, h, w)``, level 1 -> ``(N, 3, 2h, 2w)`` (the output).

All "SAME" convs use reflect padding (as the official ``tf.pad(..., 'REFLECT')``); PReLUs have one slope
per channel; instance norm is tfa's (``eps=1e-3``, affine). Attribute names are the official tensor
names (``conv_l3_d6`` = the residual groups producing ``conv_l3_d6``) so Keras weights map in order.
The official code also builds a "level 0" head that it never returns; it is left out here.

Input size: ``h`` and ``w`` divisible by 4 and at least 28 (the level-3 channel attention subsamples by 9).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from isplab.models.ops import depth_to_space
from isplab.models.registry import register_model


def _init_conv(conv: nn.Conv2d) -> nn.Conv2d:
    # Keras TruncatedNormal(0, 0.01) (cut at 2 sigma) and zero bias, as the official layers.
    nn.init.trunc_normal_(conv.weight, std=0.01, a=-0.02, b=0.02)
    nn.init.zeros_(conv.bias)
    return conv


class InstanceNorm(nn.InstanceNorm2d):
    """Affine instance norm written with mean/rsqrt on NCHW (same parameters as ``nn.InstanceNorm2d``).

    Equal to ``nn.InstanceNorm2d`` up to float rounding (~1e-6); aten's ``instance_norm`` reaches the
    TFLite graph through a batch-norm reshape with two TRANSPOSEs and a RESHAPE per layer, this form
    lowers to MEAN/SUB/MUL/RSQRT/ADD only.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        centred = x - mean
        var = (centred * centred).mean(dim=(2, 3), keepdim=True)
        y = centred * torch.rsqrt(var + self.eps)
        return y * self.weight.reshape(1, -1, 1, 1) + self.bias.reshape(1, -1, 1, 1)


class ConvLayer(nn.Module):
    """Official ``_conv_layer``: [reflect pad k//2] -> conv -> [instance norm] -> [PReLU]."""

    def __init__(self, cin: int, cout: int, k: int, stride: int = 1, act: bool = True,
                 norm: bool = False, same: bool = True):
        super().__init__()
        pad = k // 2 if same else 0
        self.conv = _init_conv(nn.Conv2d(cin, cout, k, stride, padding=pad, padding_mode="reflect"))
        self.norm = InstanceNorm(cout, eps=1e-3, affine=True) if norm else nn.Identity()
        self.act = nn.PReLU(cout, init=0.0) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


class Upsample(nn.Module):
    """Official ``_upsample_layer``: bilinear x2 (half-pixel, = TF2 resize) -> reflect 3x3 conv -> PReLU."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = ConvLayer(cin, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))


class Residual1x1(nn.Module):
    """Official ``_conv_residual_1x1``: ``x + PReLU(conv1x1(x))``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = ConvLayer(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x)


class ResidualGroups(nn.Module):
    """Official ``_residual_groups_residual``: split channels into ``groups``, ``n`` residual 3x3 convs
    per group (instance norm on even groups), concat, 1x1 conv, plus the input. ``(N,C,h,w)`` -> same."""

    def __init__(self, channels: int, groups: int, n: int = 1, norm: bool = True):
        super().__init__()
        step = channels // groups
        self.groups = nn.ModuleList(
            [nn.ModuleList([ConvLayer(step, step, 3, norm=norm and i % 2 == 0) for _ in range(n)])
             for i in range(groups)]
        )
        self.fuse = ConvLayer(channels, channels, 1, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = []
        for g, convs in zip(x.chunk(len(self.groups), dim=1), self.groups, strict=True):
            for conv in convs:
                g = conv(g) + g
            outs.append(g)
        return self.fuse(torch.cat(outs, dim=1)) + x


class SpatialAttention(nn.Module):
    """Official ``_sam_block`` minus the outer skip: ``out * sigmoid(dw5x5(out))``, ``out = conv3x3(x)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = ConvLayer(channels, channels, 3)
        self.dw = nn.Conv2d(channels, channels, 5, padding=2, padding_mode="reflect", groups=channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out * torch.sigmoid(self.dw(out))


class ChannelAttention(nn.Module):
    """Official ``_cam_block`` (without the outer skip): gate from 1x1/s3 and 3x3/s3 VALID convs, mean,
    two 1x1 convs, sigmoid, applied to ``out = conv3x3(x)``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = ConvLayer(channels, channels, 3)
        self.att = nn.Sequential(
            ConvLayer(channels, channels, 1, stride=3, same=False),
            ConvLayer(channels, channels, 3, stride=3, same=False),
        )
        self.fc1 = ConvLayer(channels, channels, 1)
        self.fc2 = ConvLayer(channels, channels, 1, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        gate = self.att(out).mean(dim=(2, 3), keepdim=True)
        return out * torch.sigmoid(self.fc2(self.fc1(gate)))


def _rgb(x: torch.Tensor) -> torch.Tensor:
    return torch.tanh(x) * 0.58 + 0.5


class PyNetV2Mobile(nn.Module):
    """Packed raw ``(N, 4, h, w)`` -> RGB ``(N, 3, 2h, 2w)``; :meth:`forward_levels` for all three levels."""

    def __init__(self, in_channels: int = 4):
        super().__init__()
        # level 3 (h/4, 128 ch)
        self.conv_l1_d1 = ConvLayer(in_channels, 32, 3)
        self.conv_l2_d1 = ConvLayer(32, 64, 2, stride=2, same=False)
        self.conv_l3_d1 = ConvLayer(64, 128, 2, stride=2, same=False)
        self.conv_l3_d6 = ResidualGroups(128, groups=4, n=2)
        self.conv_l3_d8 = SpatialAttention(128)
        self.conv_l3_d9 = ChannelAttention(128)
        self.conv_l3_out = ConvLayer(128, 12, 1, act=False)
        # level 2 (h/2, 64 ch)
        self.conv_t2a = Upsample(128, 64)
        self.conv_l2_d2 = ConvLayer(64, 64, 3)
        self.conv_l2_d12 = Residual1x1(64)
        self.conv_l2_d13 = ResidualGroups(64, groups=2, n=3)
        self.conv_l2_d16 = ChannelAttention(64)
        self.conv_l2_out = ConvLayer(64, 12, 1, act=False)
        # level 1 (h, 32 ch)
        self.conv_t1a = Upsample(64, 32)
        self.conv_l1_d2 = ConvLayer(32, 32, 3)
        self.conv_l1_d12 = Residual1x1(32)
        self.conv_l1_d13 = ResidualGroups(32, groups=4)
        self.conv_l1_d14 = ResidualGroups(32, groups=2)
        self.conv_l1_out = ConvLayer(32, 16, 1)  # with PReLU, before depth_to_space
        self.conv_l1_rgb = ConvLayer(4, 3, 3, act=False)  # at full resolution

    def _level3(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features ``conv_l1_d1``, ``conv_l2_d1``, ``conv_l3_d9`` of the three levels."""
        l1 = self.conv_l1_d1(x)
        l2 = self.conv_l2_d1(l1)
        l3 = self.conv_l3_d6(self.conv_l3_d1(l2))
        l3 = self.conv_l3_d8(l3) + l3
        return l1, l2, self.conv_l3_d9(l3) + l3

    def _level2(self, l2: torch.Tensor, l3: torch.Tensor) -> torch.Tensor:
        l2 = self.conv_l2_d13(self.conv_l2_d12(self.conv_l2_d2(l2) + self.conv_t2a(l3)))
        return self.conv_l2_d16(l2) + l2

    def _level1(self, l1: torch.Tensor, l2: torch.Tensor) -> torch.Tensor:
        """Level-1 features -> the full-resolution RGB ``(N, 3, 2h, 2w)``."""
        l1 = self.conv_l1_d2(l1) + self.conv_t1a(l2)
        l1 = self.conv_l1_d14(self.conv_l1_d13(self.conv_l1_d12(l1)))
        return _rgb(self.conv_l1_rgb(depth_to_space(self.conv_l1_out(l1), 2)))

    def forward_levels(self, x: torch.Tensor, finest: int = 1) -> dict[int, torch.Tensor]:
        """RGB outputs ``{3: (N,3,h/2,w/2), 2: (N,3,h,w), 1: (N,3,2h,2w)}`` of levels ``finest..3``.

        Levels finer than ``finest`` are not computed: PyNET trains level 3 first, then 2, then 1, and a
        stage may also supervise the coarser heads (multi-level loss).
        """
        l1, l2, l3 = self._level3(x)
        out = {3: _rgb(depth_to_space(self.conv_l3_out(l3), 2))}
        if finest <= 2:
            l2 = self._level2(l2, l3)
            out[2] = _rgb(depth_to_space(self.conv_l2_out(l2), 2))
        if finest <= 1:
            out[1] = self._level1(l1, l2)
        return out

    def forward(self, x: torch.Tensor, return_levels: bool = False) -> torch.Tensor | dict[int, torch.Tensor]:
        """Finest RGB ``(N, 3, 2h, 2w)``; with ``return_levels=True`` the dict of :meth:`forward_levels`."""
        if return_levels:
            return self.forward_levels(x)
        # forward_levels(x)[1] without the two coarse RGB heads, which level 1 does not need.
        l1, l2, l3 = self._level3(x)
        return self._level1(l1, self._level2(l2, l3))


@register_model("pynetv2_mobile", recipe="pynetv2_mobile", input_multiple=4, min_input=28)
def pynetv2_mobile() -> PyNetV2Mobile:
    """PyNET-V2 Mobile (official baseline): 3-level pyramid, instance norm, attention, 932,583 params."""
    return PyNetV2Mobile()

