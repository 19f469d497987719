"""Which pairs train, validate and test (isplab.data.splits), and what `isplab eval --split` scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from isplab.data import synthesize_dataset
from isplab.data.splits import EvalSet, folder_eval_set, folder_splits
from isplab.errors import DataError


def _files(dataset):
    return [dataset.files(i)[0] for i in range(len(dataset))]


def test_split_folders_are_used_as_they_are(tmp_path, make_pairs):
    for split, n in (("train", 4), ("val", 2), ("test", 3)):
        make_pairs(tmp_path / split, n, size=16)
    parts = folder_splits(tmp_path)
    assert (len(parts.train), len(parts.val), len(parts.test)) == (4, 2, 3)
    assert parts.val_rule == "the val/ folder"


def test_flat_folder_holds_out_the_last_block(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 20, size=16)
    parts = folder_splits(root, val_fraction=0.1)
    assert [p.stem for p in _files(parts.val)] == ["18", "19"]
    assert not set(_files(parts.train)) & set(_files(parts.val)) and len(parts.train) == 18
    assert parts.test is None and "block" in parts.val_rule


def test_synthetic_folder_holds_out_whole_photos(tmp_path):
    root = synthesize_dataset(tmp_path / "d", n=24, seed=0, size=32)
    parts = folder_splits(root, val_fraction=0.2)
    import json

    photo = {p["index"]: p["photo"] for p in json.loads((root / "camera.json").read_text())["pairs"]}
    train_photos = {photo[int(f.stem)] for f in _files(parts.train)}
    val_photos = {photo[int(f.stem)] for f in _files(parts.val)}
    assert val_photos and not train_photos & val_photos
    assert "held-out photos" in parts.val_rule


def test_eval_split_selection(tmp_path, make_pairs):
    for split, n in (("train", 10), ("test", 3)):
        make_pairs(tmp_path / split, n, size=16)
    val = folder_eval_set(tmp_path, "val", val_fraction=0.2)
    assert val.count == 2 and "train" in val.description  # held out of train/, never trained on
    assert folder_eval_set(tmp_path, "test").count == 3
    assert folder_eval_set(tmp_path / "test", "test").count == 3  # the test folder itself: all of it
    everything = folder_eval_set(tmp_path, "all")
    assert everything.count == 13 and "training pairs included" in everything.description
    assert sum(len(raw) for raw, _ in everything.batches(4)) == 13
    with pytest.raises(DataError, match="no test split"):
        folder_eval_set(tmp_path / "train", "test")
    with pytest.raises(DataError, match="unknown split"):
        folder_eval_set(tmp_path, "training")


def test_eval_checks_every_pair_before_scoring(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 10, size=16)
    (root / "mediatek_raw" / "3.png").unlink()  # an orphan target among the training pairs
    with pytest.raises(DataError, match=r"fujifilm/3\.png: missing partner file mediatek_raw/3\.png"):
        folder_eval_set(root, "val", val_fraction=0.2)
    other = make_pairs(tmp_path / "e", 6, size=16)
    Image.fromarray(np.zeros((16, 8, 3), np.uint8)).save(other / "fujifilm" / "5.png")  # the last pair scored
    with pytest.raises(DataError, match=r"fujifilm/5\.png: target is 16x8"):
        folder_eval_set(other, "all")


def test_eval_on_a_flat_training_folder_skips_its_training_pairs(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 10, size=16)
    val = folder_eval_set(root, "val", val_fraction=0.3)
    trained = folder_splits(root, val_fraction=0.3).train
    scored = torch.cat([t for _, t in val.batches(8)])
    train_targets = [trained[i][1] for i in range(len(trained))]
    assert not any(torch.equal(s, t) for s in scored for t in train_targets)


def test_limit_keeps_evenly_spaced_pairs(tmp_path, make_pairs):
    from isplab.data import PairedRawDataset

    dataset = PairedRawDataset(make_pairs(tmp_path / "d", 10, size=16), size=16)
    capped = EvalSet.folder(dataset, "val", limit=3)
    assert capped.count == 3 and "3 of 10" in capped.description


def test_embedded_sets():
    test = EvalSet.embedded("test", cameras=2)
    assert test.count == 2 and "motorcycle_left" in test.description
    raw, target = test.first()
    assert raw.shape[0] == 4 and target.shape[-2:] == (2 * raw.shape[-2], 2 * raw.shape[-1])
    with pytest.raises(DataError, match="no split"):
        EvalSet.embedded("all")
