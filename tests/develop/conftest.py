"""Fixtures for the develop tests: tiny deterministic models and raw files of every kind."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from isplab.models import create_model


def _readers_test_module():
    """``tests/raw/test_readers.py``, whose ``write_dng`` builds a minimal valid DNG (reused, not copied)."""
    path = Path(__file__).resolve().parents[1] / "raw" / "test_readers.py"
    spec = importlib.util.spec_from_file_location("_isplab_test_readers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def write_dng():
    return _readers_test_module().write_dng


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


def _write_png16(path: Path, mosaic: np.ndarray) -> Path:
    Image.fromarray(mosaic.astype(np.uint16)).save(path)
    return path


def _mosaic(h: int = 64, w: int = 80, peak: int = 1020, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, peak + 1, size=(h, w)).astype(np.uint16)


@pytest.fixture
def write_png16():
    """``write_png16(path, mosaic) -> path``: a 16-bit greyscale PNG mosaic."""
    return _write_png16


@pytest.fixture
def mosaic():
    """``mosaic(h=64, w=80, peak=1020, seed=1)``: a random uint16 Bayer mosaic."""
    return _mosaic
