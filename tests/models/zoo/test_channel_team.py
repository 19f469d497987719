"""GaUss-DWT of the Channel team (isplab.models.zoo.channel_team). Shapes, export: ``test_all_models.py``."""

from __future__ import annotations

import pytest
import torch

from isplab.models import create_model
from isplab.models.ops import sobel_kernels
from isplab.models.zoo.channel_team import FixedFilter


def test_default_size_matches_report(size_mb) -> None:
    assert size_mb("gaussdwt") == pytest.approx(102, rel=0.25)


def test_bad_size_raises() -> None:
    model = create_model("gaussdwt", channels=8, dwt_widths=(8, 8, 16, 16), merge_channels=16, merge_blocks=1)
    with pytest.raises(ValueError, match="divisible by"):
        model(torch.rand(1, 4, 16, 12))


def test_gaussdwt_fixed_filter_is_per_channel():
    kernels = sobel_kernels()
    x = torch.randn(1, 4, 9, 11)
    depthwise = torch.nn.functional.conv2d(x, kernels.repeat(4, 1, 1).unsqueeze(1), padding=1, groups=4)
    assert torch.allclose(FixedFilter(4, kernels)(x), depthwise, atol=1e-6)
