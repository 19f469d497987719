"""Haar discrete wavelet transform and its inverse as fixed convolutions (export: CONV_2D, DEPTH_TO_SPACE).

Layout: :class:`HaarDWT` maps ``(N, C, H, W)`` to ``(N, 4C, H/2, W/2)`` grouped **per band**:
channels ``[0:C]`` = LL, ``[C:2C]`` = LH, ``[2C:3C]`` = HL, ``[3C:4C]`` = HH. So ``y[:, :C]`` is the
low-frequency image and ``y[:, C:]`` the three detail bands (SKD-VSP's two-network split). With the 2x2
block ``[[a, b], [c, d]]`` (orthonormal Haar, hence the 1/2):

* LL = (a + b + c + d) / 2        LH = (a + b - c - d) / 2   (row difference: horizontal edges)
* HL = (a - b + c - d) / 2        HH = (a - b - c + d) / 2

The transform is orthonormal, so :class:`HaarIDWT` applies the transposed matrix (a 1x1 conv) and then
:func:`~isplab.models.ops.depth_to_space`; ``HaarIDWT()(HaarDWT()(x)) == x`` up to float rounding.
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


def _eye_kron(channels: int, like: torch.Tensor) -> torch.Tensor:
    return torch.eye(channels, device=like.device, dtype=like.dtype)


class HaarDWT(nn.Module):
    """One-level 2-D Haar DWT as a fixed stride-2 2x2 conv.

    Shapes: ``(N, C, H, W) -> (N, 4C, H/2, W/2)``, bands grouped per band (see module docstring).
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("filters", HAAR_FILTERS.clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        # weight[b*C + o, i] = filter_b if o == i else 0: a plain (non-grouped) conv, per-band output.
        eye = _eye_kron(c, x)
        weight = torch.einsum("bhw,oi->boihw", self.filters.to(x), eye).reshape(4 * c, c, 2, 2)
        return F.conv2d(x, weight, stride=2)


class HaarIDWT(nn.Module):
    """Inverse of :class:`HaarDWT`: fixed 1x1 conv + TF-order depth_to_space.

    Shapes: ``(N, 4C, h, w) -> (N, C, 2h, 2w)``, input grouped per band.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("filters", HAAR_FILTERS.clone(), persistent=False)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        c = y.shape[1] // 4
        eye = _eye_kron(c, y)
        # depth_to_space (DCR) wants channel (dy*2 + dx)*C + c; input channel is band*C + c.
        weight = torch.einsum("bhw,oi->hwobi", self.filters.to(y), eye).reshape(4 * c, 4 * c, 1, 1)
        return depth_to_space(F.conv2d(y, weight), 2)
