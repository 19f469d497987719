"""Haar discrete wavelet transform and its inverse as fixed convolutions (export: CONV_2D, DEPTH_TO_SPACE).

Layout: :class:`HaarDWT` maps ``(N, C, H, W)`` to ``(N, 4C, H/2, W/2)`` grouped **per band**:
channels ``[0:C]`` = LL, ``[C:2C]`` = LH, ``[2C:3C]`` = HL, ``[3C:4C]`` = HH. So ``y[:, :C]`` is the
low-frequency image and ``y[:, C:]`` the three detail bands (SKD-VSP's two-network split). With the 2x2
block ``[[a, b], [c, d]]`` (orthonormal Haar, hence the 1/2):

* LL = (a + b + c + d) / 2        LH = (a + b - c - d) / 2   (row difference: horizontal edges)
* HL = (a - b + c - d) / 2        HH = (a - b - c + d) / 2

The transform is orthonormal, so :class:`HaarIDWT` applies the transposed matrix (a 1x1 conv) and then
:func:`~isplab.models.ops.depth_to_space`; ``HaarIDWT(C)(HaarDWT(C)(x)) == x`` up to float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from isplab.models.ops import depth_to_space

#: ``(band, dy, dx)`` Haar filters, bands in LL, LH, HL, HH order.
HAAR_FILTERS = 0.5 * torch.tensor([
    [[1.0, 1.0], [1.0, 1.0]],
    [[1.0, 1.0], [-1.0, -1.0]],
    [[1.0, -1.0], [1.0, -1.0]],
    [[1.0, -1.0], [-1.0, 1.0]],
])


def dwt_weight(channels: int) -> torch.Tensor:
    """``(4C, C, 2, 2)`` conv weight of :class:`HaarDWT`: ``weight[b*C + o, i] = filter_b`` if ``o == i``."""
    eye = torch.eye(channels, device=HAAR_FILTERS.device)  # explicit device: also under a meta-device context
    return torch.einsum("bhw,oi->boihw", HAAR_FILTERS, eye).reshape(4 * channels, channels, 2, 2)


def idwt_weight(channels: int) -> torch.Tensor:
    """``(4C, 4C, 1, 1)`` 1x1 conv weight of :class:`HaarIDWT`: band-grouped input -> DCR depth_to_space order.

    depth_to_space (DCR) wants channel ``(dy*2 + dx)*C + c``; the input channel is ``band*C + c``.
    """
    eye = torch.eye(channels, device=HAAR_FILTERS.device)
    return torch.einsum("bhw,oi->hwobi", HAAR_FILTERS, eye).reshape(4 * channels, 4 * channels, 1, 1)


# The weights are built once in ``__init__`` as (non-persistent) buffers: building them in ``forward``
# (eye/einsum/reshape) would reach the exported graph as STABLEHLO_IOTA and rank-5 reshapes, which the
# TFLite runtime cannot load.
class HaarDWT(nn.Module):
    """One-level 2-D Haar DWT of ``channels`` channels as a fixed stride-2 2x2 conv.

    Shapes: ``(N, C, H, W) -> (N, 4C, H/2, W/2)``, bands grouped per band (see module docstring).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("weight", dwt_weight(channels), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, stride=2)


class HaarIDWT(nn.Module):
    """Inverse of :class:`HaarDWT` for ``channels`` output channels: fixed 1x1 conv + TF-order depth_to_space.

    Shapes: ``(N, 4C, h, w) -> (N, C, 2h, 2w)``, input grouped per band.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels
        self.register_buffer("weight", idwt_weight(channels), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return depth_to_space(F.conv2d(y, self.weight), 2)
