"""AWBUnet of team Rainbow (isplab.models.zoo.rainbow): RGB gains. Shapes, export: ``test_all_models.py``."""

from __future__ import annotations

import pytest
import torch

from isplab.models import create_model


def test_default_size_matches_report(size_mb) -> None:
    assert size_mb("awbunet") == pytest.approx(1.0, rel=0.25)


def test_bad_size_raises() -> None:
    with pytest.raises(ValueError, match="divisible by"):
        create_model("awbunet")(torch.rand(1, 4, 16, 20))


def test_awbunet_gains_start_at_one_and_scale_output():
    torch.manual_seed(0)
    model = create_model("awbunet").eval()
    x = torch.rand(2, 4, 16, 16)
    with torch.no_grad():
        rgb, gains = model(x, return_gains=True)
        assert gains.shape == (2, 5) and torch.allclose(gains, torch.ones(2, 5))
        model.gain.mlp[-1].bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 10.0]))  # boost blue brightness
        boosted = model(x)
    assert torch.allclose(boosted[:, :2], rgb[:, :2])
    assert torch.allclose(boosted[:, 2], rgb[:, 2] * 2 * torch.sigmoid(torch.tensor(10.0)))
