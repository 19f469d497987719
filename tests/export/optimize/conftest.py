"""Fixtures for the optimiser tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def _realistic(model: nn.Module) -> nn.Module:
    """Mixed-sign PReLU slopes and weights large enough that every layer matters (fresh MicroISP
    weights are N(0, 1e-3) and slopes 0, which would hide mistakes)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.PReLU):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) - 0.5)
            elif isinstance(m, nn.Conv2d):
                m.weight.normal_(0, (1.5 / m.weight[0].numel()) ** 0.5, generator=gen)
                if m.bias is not None:
                    m.bias.uniform_(-0.1, 0.1, generator=gen)
    return model.eval()


@pytest.fixture
def realistic_weights():
    """``realistic_weights(model) -> model``: mixed-sign PReLU slopes and He-scaled conv weights, eval mode."""
    return _realistic
