"""Training batches from a dataset folder (isplab.data.sources.FolderStream)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.data import PairedRawDataset
from isplab.data.sources import FolderStream
from isplab.errors import DataError
from isplab.raw.bayer import augment_pair


@pytest.fixture
def dataset(tmp_path, make_pairs):
    return PairedRawDataset(make_pairs(tmp_path / "d", 5, size=16), size=16)


def _crops_of(pair, side):
    """Every aligned crop of a pair (packed offsets), under all 8 dihedral transforms."""
    raw, target = pair
    for y in range(raw.shape[1] - side // 2 + 1):
        for x in range(raw.shape[2] - side // 2 + 1):
            r = raw[:, y:y + side // 2, x:x + side // 2]
            t = target[:, 2 * y:2 * y + side, 2 * x:2 * x + side]
            yield from (augment_pair(r, t, k) for k in range(8))


def test_each_epoch_visits_every_pair_once(dataset):
    stream = FolderStream(dataset, augment=False, seed=0)
    seen = torch.cat([stream.batch(step, 5)[1] for step in range(2)])  # two epochs of 5
    pairs = [dataset[i][1] for i in range(5)]
    for epoch in (seen[:5], seen[5:]):
        matches = sorted(next(i for i, p in enumerate(pairs) if torch.equal(p, t)) for t in epoch)
        assert matches == list(range(5))


def test_batches_are_pure_functions_of_seed_and_step(dataset):
    a = FolderStream(dataset, patch=8, seed=3).batch(4, 2)
    b = FolderStream(dataset, patch=8, seed=3, cache_gb=0).batch(4, 2)  # fresh, no cache, like a resume
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c = FolderStream(dataset, patch=8, seed=3, salt=1).batch(4, 2)
    assert not torch.equal(a[1], c[1])


def test_crops_are_aligned_cfa_consistent_pieces_of_a_pair(dataset):
    raw, target = FolderStream(dataset, patch=8, seed=1).batch(0, 5)
    assert raw.shape == (5, 4, 4, 4) and target.shape == (5, 3, 8, 8)
    pairs = [dataset[i] for i in range(5)]
    for r, t in zip(raw, target, strict=True):
        assert any(torch.equal(r, cr) and torch.equal(t, ct) for p in pairs for cr, ct in _crops_of(p, 8))


def test_raw_keeps_the_official_scaling(dataset):
    raw, _ = FolderStream(dataset, augment=False).batch(0, 5)
    assert raw.max() > 1  # codes / 1020, unclipped: the test pairs go up to 1023


def test_cache_bound(dataset):
    assert FolderStream(dataset).cached and not FolderStream(dataset, cache_gb=0).cached


def test_patch_must_fit(dataset):
    with pytest.raises(DataError, match="does not fit"):
        FolderStream(dataset, patch=32)
    with pytest.raises(DataError, match="even"):
        FolderStream(dataset, patch=7)


def test_non_square_pairs_are_only_flipped(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 3, size=16)
    dataset = PairedRawDataset(root, size=16)
    dataset.size = (16, 8)  # pretend: a transpose would change the shape
    stream = FolderStream(dataset, seed=0)
    assert all(t < 4 for t in stream._epoch(0)[1]) and np.all(stream._epoch(0)[1] >= 0)
