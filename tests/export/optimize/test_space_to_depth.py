"""Space-to-depth grid algebra (isplab.export.optimize.space_to_depth): block convolutions, masks, sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from isplab.export.optimize.space_to_depth import (
    BlockConv,
    depth_to_space_4_order,
    grid_masks,
    sampler_weight,
)
from isplab.models.ops import depth_to_space


def to_grid(t: torch.Tensor, offset: int) -> torch.Tensor:
    """(N, C, H, W) -> the grid of ``offset``: (N, 4C, H/2 + offset, W/2 + offset), zeros outside the image."""
    if offset:
        t = F.pad(t, (1, 1, 1, 1))
    n, c, h, w = t.shape
    return t.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


def inside(grid: torch.Tensor, offset: int) -> torch.Tensor:
    """``grid`` with its padding half-blocks zeroed (what the model keeps there)."""
    if not offset:
        return grid
    h, w = 2 * (grid.shape[2] - 1), 2 * (grid.shape[3] - 1)
    rows, cols = grid_masks((h, w), grid.shape[1] // 4)
    return grid * rows * cols


@pytest.fixture
def conv() -> nn.Conv2d:
    torch.manual_seed(0)
    return nn.Conv2d(4, 5, 3, padding=1).double()


@pytest.mark.parametrize("source,target", [(None, 1), (0, 1), (1, 0)])
def test_block_conv_equals_the_3x3_conv_on_the_other_grid(conv, source, target):
    x = torch.rand(2, 4, 10, 14, dtype=torch.float64)
    block = BlockConv(conv, source, target).double()
    got = block(x if source is None else to_grid(x, source))
    expected = to_grid(conv(x), target)
    assert got.shape == expected.shape
    torch.testing.assert_close(inside(got, target), expected, rtol=0, atol=1e-12)


def test_block_conv_refuses_other_convolutions():
    with pytest.raises(ValueError, match="3x3 stride-1"):
        BlockConv(nn.Conv2d(4, 4, 3, stride=2, padding=1), 0, 1)


def test_grid_masks_zero_exactly_the_padding():
    rows, cols = grid_masks((6, 8), 2)
    assert rows.shape == (1, 8, 4, 1) and cols.shape == (1, 8, 1, 5)
    ones = torch.ones(1, 2, 6, 8)
    torch.testing.assert_close(to_grid(ones, 1) * rows * cols, to_grid(ones, 1))  # image pixels kept
    assert float((rows * cols).sum()) == 2 * 6 * 8  # and nothing else


@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("size", [(12, 18), (14, 16)])
def test_sampler_picks_every_third_pixel(offset, size):
    torch.manual_seed(1)
    first = nn.Conv2d(4, 3, 1, stride=3).double()
    x = torch.rand(1, 4, *size, dtype=torch.float64)
    weight, dilation = sampler_weight(first.weight.detach()[:, :, 0, 0].numpy(), offset)
    grid = to_grid(x, offset)
    rows, cols = -(-size[0] // 3), -(-size[1] // 3)
    need = [3 * (-(-n // 2) - 1) + dilation + 1 for n in (rows, cols)]
    grid = F.pad(grid, (0, max(0, need[1] - grid.shape[3]), 0, max(0, need[0] - grid.shape[2])))
    y = F.conv2d(grid, torch.from_numpy(weight).double(), first.bias.detach().repeat(4), stride=3,
                 dilation=dilation)
    got = depth_to_space(y, 2)[:, :, :rows, :cols]
    torch.testing.assert_close(got, first(x), rtol=0, atol=1e-12)


def test_depth_to_space_4_order_matches_two_shuffles():
    head = torch.rand(1, 4, 6, 8)  # a 2x-upsampling head's channels (by, bx) on the full grid
    grid = to_grid(head, 0)  # channels (sy, sx, by, bx)
    expected = depth_to_space(head, 2)
    assert torch.equal(depth_to_space(grid[:, depth_to_space_4_order()], 4), expected)
    assert np.array_equal(sorted(depth_to_space_4_order(3)), np.arange(48))
