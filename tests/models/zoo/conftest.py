"""Shared by the team-model tests (one file per ``isplab/models/zoo`` module)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from isplab.models import count_parameters, create_model
from isplab.models.reparam import reparameterize


def _size_mb(name: str, reparam: bool = False) -> float:
    """fp32 parameter MB of model ``name`` at its default size, as Table 1 measures the TFLite file:
    reparameterised (built on the CPU: the small re-parameterisable models), otherwise counted on the meta
    device so the 200 MB models allocate nothing."""
    if reparam:
        return count_parameters(reparameterize(create_model(name))) * 4 / 1e6
    with torch.device("meta"):
        return count_parameters(create_model(name)) * 4 / 1e6


@pytest.fixture
def size_mb() -> Callable[..., float]:
    """``size_mb(name, reparam=False) -> MB`` to compare with the report's Table 1 (within 25 %)."""
    return _size_mb
