"""Concat -> DepthToSpace output stage (isplab.export.optimize.output_stage): equal in float64 to
DepthToSpace -> Concat for any block and channel count, and what the optimised MicroISP graph ends in."""

from __future__ import annotations

import pytest
import torch

from isplab.export.optimize import matches, optimize_for_export
from isplab.export.optimize.output_stage import ConcatDepthToSpace, interleave_order
from isplab.models import create_model
from isplab.models.ops import DepthToSpaceConcat


@pytest.mark.parametrize("block,planes,channels", [(2, 3, 1), (4, 3, 1), (2, 2, 3)])
def test_concat_first_equals_depth_to_space_first(block, planes, channels):
    torch.manual_seed(0)
    xs = [torch.randn(2, block * block * channels, 5, 7, dtype=torch.float64) for _ in range(planes)]
    stage = DepthToSpaceConcat(block, planes, channels)
    rewritten = ConcatDepthToSpace(stage).double()
    assert torch.equal(rewritten(xs), stage(xs))  # a permutation: bit-exact
    assert sorted(interleave_order(planes, block, channels)) == list(range(planes * block * block * channels))


def test_microisp_output_stage_is_rewritten_after_the_grid(realistic_weights):
    model = realistic_weights(create_model("microisp"))
    assert matches(model, (96, 128)) == ["microisp-space-to-depth", "concat-depth-to-space"]
    optimized = optimize_for_export(model, (96, 128))
    assert optimized.applied == ["microisp-space-to-depth", "concat-depth-to-space"]
    assert isinstance(optimized.model.to_rgb, ConcatDepthToSpace) and optimized.model.to_rgb.block == 4
    odd = optimize_for_export(model, (81, 97))  # no grid: the plain model's stage is rewritten alone
    assert odd.applied == ["concat-depth-to-space"] and isinstance(odd.model.to_rgb, ConcatDepthToSpace)
