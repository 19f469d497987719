"""MiAlgo UNet (isplab.models.zoo.mialgo). Shapes, gradients, export: ``test_all_models.py``."""

from __future__ import annotations

import pytest
import torch

from isplab.models import create_model


def test_default_size_matches_report(size_mb) -> None:
    assert size_mb("mialgo_unet") == pytest.approx(117, rel=0.25)


def test_bad_size_raises() -> None:
    model = create_model("mialgo_unet", channels=(4, 8, 8, 16), n_blocks=1)
    with pytest.raises(ValueError, match="divisible by"):
        model(torch.rand(1, 4, 12, 16))
