"""CHannel Team (report section 4.11, Fig. 13): GaUss-DWT, a three-path raw-to-RGB network.

The challenge TFLite "Failed" on the phone GPU. This version keeps to GPU-delegate ops: rank-4 tensors,
fixed filters and Haar DWT/IDWT as plain convs (plus depth_to_space), channel attention by mean pooling.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from isplab.models.blocks import HaarDWT, HaarIDWT, ResidualBlock, ResidualGroup
from isplab.models.ops import depth_to_space, gauss_kernel, sobel_kernels
from isplab.models.registry import register_model


def _rcab(channels: int) -> ResidualBlock:
    return ResidualBlock(channels, attention=True)


class FixedFilter(nn.Module):
    """Fixed (non-trainable) per-channel filter bank: each input channel -> ``len(kernels)`` channels.

    ``(N, C, H, W) -> (N, C * K, H, W)``, output channel ``c * K + k`` = kernel ``k`` on channel ``c``.
    Stored as a dense block-diagonal conv weight ``(C*K, C, s, s)``: a depthwise conv with depth
    multiplier ``K > 1`` falls back to the CPU on the mobile GPU delegate, a plain CONV_2D does not.
    """

    def __init__(self, channels: int, kernels: torch.Tensor):
        super().__init__()
        k, size, _ = kernels.shape
        self.padding = size // 2
        self.out_channels = channels * k
        eye = torch.eye(channels, device=kernels.device)
        weight = torch.einsum("ci,khw->ckihw", eye, kernels).reshape(channels * k, channels, size, size)
        self.register_buffer("weight", weight, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # zero padding: plain CONV_2D padding (replicate padding has no GPU-delegate op)
        return F.conv2d(x, self.weight, padding=self.padding)


class FilterPath(nn.Sequential):
    """Fixed filter, two 3x3 convs (ReLU between), one residual channel attention block."""

    def __init__(self, head: nn.Module, in_channels: int, channels: int):
        super().__init__(
            head,
            nn.Conv2d(in_channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            _rcab(channels),
        )


class DWTPath(nn.Module):
    """Simplified MW-ISPNet: a wavelet UNet with RCABs where MW-ISPNet has residual groups.

    Level 0 works at packed resolution with ``widths[0]`` channels; each further level is Haar DWT (4x
    channels, half size) + 3x3 conv to ``widths[l]`` + ``blocks`` RCABs. Going up: 3x3 conv to
    ``4 * widths[l-1]``, Haar IDWT, add the encoder skip, ``blocks`` RCABs. Sides must be multiples of
    ``2 ** (len(widths) - 1)``.
    """

    def __init__(self, in_channels: int = 4, widths: tuple[int, ...] = (64, 128, 256, 512), blocks: int = 1):
        super().__init__()
        # one fixed DWT per encoder level and one IDWT per decoder level (weights depend on the width)
        self.dwts = nn.ModuleList([HaarDWT(c) for c in widths[:-1]])
        self.idwts = nn.ModuleList([HaarIDWT(c) for c in widths[-2::-1]])
        self.head = nn.Sequential(nn.Conv2d(in_channels, widths[0], 3, padding=1), _rcab(widths[0]))
        self.downs = nn.ModuleList(
            [
                nn.Sequential(nn.Conv2d(4 * c_in, c, 3, padding=1), *[_rcab(c) for _ in range(blocks)])
                for c_in, c in zip(widths[:-1], widths[1:], strict=True)
            ]
        )
        self.ups = nn.ModuleList(
            [
                nn.Conv2d(c_in, 4 * c, 3, padding=1)
                for c_in, c in zip(widths[:0:-1], widths[-2::-1], strict=True)
            ]
        )
        self.refines = nn.ModuleList(
            [nn.Sequential(*[_rcab(c) for _ in range(blocks)]) for c in widths[-2::-1]]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(x)
        skips = [y]
        for dwt, down in zip(self.dwts, self.downs, strict=True):
            y = down(dwt(y))
            skips.append(y)
        skips.pop()
        for idwt, up, refine in zip(self.idwts, self.ups, self.refines, strict=True):
            y = refine(idwt(up(y)) + skips.pop())
        return y


class GaussDWT(nn.Module):
    """Basic, filter (Gauss, Sobel) and DWT paths -> concat -> 1x1 conv -> RCA group -> 4 convs -> d2s.

    Input ``(N, 4, h, w)`` with ``h, w`` divisible by ``2 ** (len(dwt_widths) - 1)``; output
    ``(N, 3, 2h, 2w)`` (linear).
    """

    def __init__(
        self,
        channels: int = 64,
        dwt_widths: tuple[int, ...] = (64, 128, 256, 512),
        dwt_blocks: int = 1,
        merge_channels: int = 128,
        merge_blocks: int = 16,
    ):
        super().__init__()
        self.basic = nn.Sequential(
            nn.Conv2d(4, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            _rcab(channels),
        )
        gauss, sobel = FixedFilter(4, gauss_kernel()), FixedFilter(4, sobel_kernels())
        self.gauss = FilterPath(gauss, gauss.out_channels, channels)
        self.sobel = FilterPath(sobel, sobel.out_channels, channels)
        self.dwt = DWTPath(4, tuple(dwt_widths), dwt_blocks)
        self.merge = nn.Sequential(
            nn.Conv2d(3 * channels + dwt_widths[0], merge_channels, 1),
            ResidualGroup(merge_channels, merge_blocks, attention=True),
        )
        c = merge_channels
        self.tail = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c, 3 * 4, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        paths = [self.basic(x), self.gauss(x), self.sobel(x), self.dwt(x)]
        return depth_to_space(self.tail(self.merge(torch.cat(paths, dim=1))), 2)


@register_model("gaussdwt", recipe="channel_team", input_multiple=8)
def gaussdwt(
    channels: int = 64,
    dwt_widths: tuple[int, ...] = (64, 128, 256, 512),
    dwt_blocks: int = 1,
    merge_channels: int = 128,
    merge_blocks: int = 16,
) -> nn.Module:
    """CHannel Team GaUss-DWT: basic, Gauss/Sobel filter and wavelet (MW-ISPNet-lite) paths, RCA group merge.

    Report section 4.11 gives the paths and their layer types; widths and depths are not given.
    Assumed: 64-channel basic/filter paths, a 5x5 sigma-1 Gaussian and Sobel x/y as fixed per-channel
    filters, a 4-level wavelet path (64/128/256/512, one RCAB per level and side, additive
    skips as MWCNN), a 1x1 fusion to 128 channels and a 16-RCAB group; depths chosen for Table 1
    (102 MB): 26.0M params, 104.0 MB fp32 weights; the file also stores the fixed Haar DWT/IDWT conv
    weights of each level. GPU-exportable (rank 4, fixed convs). Packed sides: multiples of 8.
    """
    return GaussDWT(channels, tuple(dwt_widths), dwt_blocks, merge_channels, merge_blocks)

