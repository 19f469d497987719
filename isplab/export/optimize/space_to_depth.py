"""3x3 convolutions on a space-to-depth grid: the same function, a quarter of the positions, 4x the channels.

XNNPACK runs a 3x3 convolution with 4 input and 4 output channels far below its peak: the output uses
a quarter of an AVX-512 register, and its indirection buffer (9 pointers per output pixel, 72 bytes)
outweighs the 16 bytes of data each pixel holds. Stored space-to-depth (2x2 pixels per position, 16
channels), the same tensor has a quarter of the positions and full-width channel vectors.

A 3x3 kernel reaches one pixel beyond a 2x2 block on each side, i.e. three blocks. Alternating the
block grid between two offsets avoids that: on the *offset-0* grid block ``I`` holds pixels
``(2I, 2I+1)``, on the *offset-1* grid pixels ``(2I-1, 2I)`` (``H/2 + 1`` blocks, the outer half-blocks
being the zero padding). An output block on one grid needs exactly two blocks of the other, so each
3x3 convolution becomes a 2x2 one (16 -> 16 channels, 1.8x the minimal MACs at full vector width) from
one grid to the other (:class:`BlockConv`). Channels are ordered ``(sub-row, sub-column, channel)``,
TensorFlow's ``space_to_depth`` order.

The offset-1 grid's padding half-blocks must hold zeros before a convolution reads them (they are
"SAME" zero padding), but a convolution writes ``bias + ...`` there: :func:`grid_masks` gives the row and
column masks that zero them. Pointwise ops (per-channel PReLU, adds, per-channel gates, tanh) work on
either grid unchanged once their per-channel constants are repeated 4x.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def block_conv_weight(weight: np.ndarray, source: int | None, target: int) -> tuple[np.ndarray, int, int, int]:
    """The block convolution that equals the 3x3 ``weight (O, I, 3, 3)`` (stride 1, zero padding 1).

    ``source`` is the input grid offset (0 or 1), or None for the full-resolution input; ``target`` the
    output grid offset. Returns ``(block weight (4O, Ci, k, k), kernel k, stride, padding)``: a 2x2
    stride-1 convolution between grids (padding 1 from offset 0, none from offset 1), or a 4x4 stride-2
    one (padding 2) from full resolution, which reads the raw input without a space-to-depth copy.
    """
    out_ch, in_ch = weight.shape[:2]
    if source is None:
        k, stride, pad, sub_in = 4, 2, 2, 1
    else:
        k, stride, pad, sub_in = 2, 1, 1 - source, 2
    block = np.zeros((4 * out_ch, sub_in * sub_in * in_ch, k, k), dtype=np.float64)
    for ty in range(2):
        for tx in range(2):
            for uy in range(k):
                for ux in range(k):
                    for sy in range(sub_in):
                        for sx in range(sub_in):
                            # pixel offset of input tap (u, s) from output pixel t, per axis
                            if source is None:
                                dy, dx = uy - pad + target - ty, ux - pad + target - tx
                            else:
                                dy = 2 * (uy - pad) - source + sy + target - ty
                                dx = 2 * (ux - pad) - source + sx + target - tx
                            if abs(dy) <= 1 and abs(dx) <= 1:
                                o = (ty * 2 + tx) * out_ch
                                i = (sy * 2 + sx) * in_ch
                                block[o:o + out_ch, i:i + in_ch, uy, ux] += weight[:, :, dy + 1, dx + 1]
    return block, k, stride, pad


class BlockConv(nn.Module):
    """A 3x3 stride-1 zero-padded ``nn.Conv2d`` computed from one grid onto the other (module docstring)."""

    def __init__(self, conv: nn.Conv2d, source: int | None, target: int):
        super().__init__()
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (1, 1) or conv.groups != 1 \
                or conv.dilation != (1, 1) or conv.padding_mode != "zeros":
            raise ValueError(f"BlockConv needs a plain 3x3 stride-1 'same' convolution, got {conv}")
        block, k, self.stride, self.padding = block_conv_weight(conv.weight.detach().double().cpu().numpy(),
                                                                source, target)
        self.weight = nn.Parameter(torch.from_numpy(block).float(), requires_grad=False)
        bias = conv.bias.detach() if conv.bias is not None else torch.zeros(conv.out_channels)
        self.bias = nn.Parameter(bias.repeat(4).clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, stride=self.stride, padding=self.padding)


def permute_outputs(conv: BlockConv, order: list[int]) -> BlockConv:
    """Reorder ``conv``'s output channels in place (``order[i]`` = old index of new channel ``i``)."""
    conv.weight.data, conv.bias.data = conv.weight.data[order], conv.bias.data[order]
    return conv


def depth_to_space_4_order(channels: int = 1) -> list[int]:
    """Channel order that turns a grid tensor of a 2x-upsampling head (channels ``(sy, sx, by, bx, c)``:
    grid sub-pixel, then the head's own 2x2 depth-to-space) into one ``depth_to_space(., 4)`` input
    (``(sy, by, sx, bx, c)``: row offset ``2 sy + by``, column offset ``2 sx + bx``)."""
    return [((sy * 2 + sx) * 4 + by * 2 + bx) * channels + c
            for sy in range(2) for by in range(2) for sx in range(2) for bx in range(2) for c in range(channels)]


def grid_masks(size: tuple[int, int], channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row mask ``(1, 4C, H/2+1, 1)`` and column mask ``(1, 4C, 1, W/2+1)`` of the offset-1 grid of a
    ``(H, W)`` image: 1 where a grid entry is an image pixel, 0 on the padding half-blocks."""
    masks = []
    for axis, n in enumerate(size):
        valid = np.zeros((2, n // 2 + 1), np.float32)  # [sub, block]: pixel 2*block - 1 + sub
        valid[0, 1:], valid[1, :-1] = 1, 1
        if axis == 0:  # channel (sy, sx, c) takes sub = sy
            m = np.repeat(np.repeat(valid[:, None, None, :], 2, 1), channels, 2).reshape(4 * channels, -1, 1)
        else:  # sub = sx
            m = np.repeat(np.repeat(valid[None, :, None, :], 2, 0), channels, 2).reshape(4 * channels, 1, -1)
        masks.append(torch.from_numpy(np.ascontiguousarray(m))[None])
    return masks[0], masks[1]


def sampler_weight(weight: np.ndarray, offset: int, step: int = 3) -> tuple[np.ndarray, int]:
    """A convolution that picks pixels ``(step i, step j)`` from a grid tensor of ``offset`` and applies the
    1x1 ``weight (O, I)`` to them, for ``step`` = 3 (MicroISP's attention input).

    Output channels ``(a, b, o)`` hold the pixel of row parity ``a`` and column parity ``b``: a following
    ``depth_to_space(., 2)`` yields the stride-3 sampled map. Pixel ``6m + 3a`` sits in block
    ``3m + (3a + offset) // 2``, sub ``(3a + offset) % 2``, so the kernel is 2x2 with dilation ``d`` (the
    distance between the two taps: 1 on the offset-0 grid, 2 on the offset-1 grid) and stride 3.
    Returns ``(weight (4O, 4I, 2, 2), dilation)``.
    """
    if step != 3:
        raise ValueError("only stride-3 sampling is implemented")
    out_ch, in_ch = weight.shape
    taps = [((3 * a + offset) // 2, (3 * a + offset) % 2) for a in range(2)]  # (block, sub) per parity
    dilation = taps[1][0] - taps[0][0]
    w = np.zeros((4 * out_ch, 4 * in_ch, 2, 2), np.float32)
    for ay in range(2):
        for ax in range(2):
            (by, sy), (bx, sx) = taps[ay], taps[ax]
            o, i = (ay * 2 + ax) * out_ch, (sy * 2 + sx) * in_ch
            w[o:o + out_ch, i:i + in_ch, by // dilation, bx // dilation] = weight
    return w, dilation
