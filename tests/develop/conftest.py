"""Fixtures for the develop tests: tiny deterministic models and packed frames (raw files: ``write_png16``
and ``write_dng`` in ``tests/conftest.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.models import create_model


@pytest.fixture
def smallnet() -> torch.nn.Module:
    """``smallnet`` with random weights large enough that every pixel's neighbourhood matters
    (receptive-field radius: 3 packed pixels, three 3x3 convs)."""
    torch.manual_seed(0)
    model = create_model("smallnet").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model


@pytest.fixture
def packed() -> np.ndarray:
    """A deterministic packed frame ``(4, 70, 101)`` in [0, 1] with structure at every scale."""
    rng = np.random.default_rng(0)
    yy, xx = np.meshgrid(np.linspace(0, 1, 70), np.linspace(0, 1, 101), indexing="ij")
    base = 0.4 + 0.3 * np.sin(9 * yy + 5 * xx)
    return np.clip(base[None] + rng.normal(0, 0.1, (4, 70, 101)), 0, 1).astype(np.float32)


def _mosaic(h: int = 64, w: int = 80, peak: int = 1020, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, peak + 1, size=(h, w)).astype(np.uint16)


@pytest.fixture
def mosaic():
    """``mosaic(h=64, w=80, peak=1020, seed=1)``: a random uint16 Bayer mosaic."""
    return _mosaic
