"""Fixtures of the data tests: small random datasets in the official layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_pairs(folder: Path, n: int, layout: str = "ultraisp", size: int = 256, seed: int = 0) -> Path:
    """Random pairs in a layout folder; raw codes go up to 1023 (above the 1020 white) on purpose."""
    raw_dir, target_dir, suffix = {"ultraisp": ("mediatek_raw", "fujifilm", ".png"),
                                   "zurich": ("huawei_raw", "canon", ".jpg")}[layout]
    rng = np.random.default_rng(seed)
    (folder / raw_dir).mkdir(parents=True)
    (folder / target_dir).mkdir(parents=True)
    for i in range(n):
        mosaic = rng.integers(0, 1024, (size, size)).astype(np.uint16)
        Image.fromarray(mosaic).save(folder / raw_dir / f"{i}.png")
        rgb = rng.integers(0, 256, (size, size, 3)).astype(np.uint8)
        Image.fromarray(rgb).save(folder / target_dir / f"{i}{suffix}")
    return folder


@pytest.fixture
def make_pairs():
    """``make_pairs(folder, n, layout="ultraisp", size=256, seed=0) -> folder`` of random pairs."""
    return write_pairs
