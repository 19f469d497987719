"""Packed stores (isplab.data.pack / isplab.data.store): same pairs, splits and batches as the folder."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from isplab.cli import main
from isplab.data import pack as pack_module
from isplab.data import synthesize_dataset
from isplab.data.pack import pack_dataset
from isplab.data.sources import FolderStream
from isplab.data.splits import folder_eval_set, folder_splits
from isplab.data.store import StoredPairs, check_store, is_store
from isplab.errors import DataError
from isplab.raw.bayer import augment_pair, augment_views
from isplab.train.config import DataConfig, StageConfig, TrainConfig
from isplab.train.data import build_run_data
from isplab.train.engine import step_batches, train


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    """A synthetic folder with train/ val/ test/ splits (camera.json) and its store in 3-pair shards."""
    root = tmp_path_factory.mktemp("store")
    folder = synthesize_dataset(root / "d", n=8, val=3, test=2, size=32, seed=2)
    return folder, pack_dataset(folder, root / "st", shard_pairs=3, progress=False)


def _all(eval_set):
    raws, targets = zip(*eval_set.batches(4), strict=True)
    return torch.cat(raws), torch.cat(targets)


def test_store_batches_equal_folder_batches(synth):
    folder, store = synth
    cfg = DataConfig(batch_size=3, patch=16)
    a = build_run_data(DataConfig(**{**cfg.__dict__, "path": str(folder)}), seed=5)
    b = build_run_data(DataConfig(**{**cfg.__dict__, "path": str(store)}), seed=5)
    for step in (0, 2, 3, 7):  # crosses epochs of 8 pairs and shards of 3
        torch.testing.assert_close(a.train.batch(step, 3), b.train.batch(step, 3), rtol=0, atol=0)
    for x, y in ((a.val_full, b.val_full), (a.test, b.test)):
        assert x.count == y.count
        torch.testing.assert_close(_all(x), _all(y), rtol=0, atol=0)


def test_whole_pair_batches_and_items_equal_the_folder(synth):
    folder, store = synth
    a, b = folder_splits(folder).train, folder_splits(store).train
    assert isinstance(b, StoredPairs) and len(a) == len(b) and a.size == b.size
    for i in range(len(a)):
        torch.testing.assert_close(a[i], b[i], rtol=0, atol=0)
    assert [p.name for p in b.raw_files] == [p.name for p in a.raw_files]
    assert b.files(0)[0] == a.files(0)[0]  # messages name the source file


def test_held_out_photos_and_flat_split_folders_are_preserved(tmp_path):
    flat = synthesize_dataset(tmp_path / "flat", n=12, size=32, seed=1)  # camera.json: held-out photos
    store = pack_dataset(flat, tmp_path / "flat.store", progress=False)
    a, b = folder_splits(flat, val_fraction=0.25), folder_splits(store, val_fraction=0.25)
    assert a.val_rule == b.val_rule and "camera.json" in a.val_rule
    assert (a.train.positions, a.val.positions) == (b.train.positions, b.val.positions)
    # A store of DIR/test is a test split, like the folder itself.
    split = synthesize_dataset(tmp_path / "s", n=4, test=3, size=32)
    test_store = pack_dataset(split / "test", tmp_path / "test.store", progress=False)
    x, y = folder_eval_set(split, "test"), folder_eval_set(test_store, "test")
    assert x.count == y.count == 3
    torch.testing.assert_close(_all(x), _all(y), rtol=0, atol=0)
    assert "all of it" in y.description


def test_interrupted_pack_leaves_no_store_and_resumes(tmp_path, monkeypatch):
    folder = synthesize_dataset(tmp_path / "d", n=7, size=32)
    out = tmp_path / "st"
    real, written = pack_module._write_shard, []

    def crash_after_two(*args, **kwargs):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(pack_module, "_write_shard", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        pack_dataset(folder, out, shard_pairs=2, progress=False)
    assert not out.exists() and not is_store(out)
    partial = tmp_path / ".st.partial"
    with pytest.raises(DataError, match="unfinished pack.*re-run"):
        folder_splits(partial)
    written.clear()
    monkeypatch.setattr(pack_module, "_write_shard", lambda *a, **k: written.append(a[3]) or real(*a, **k))
    pack_dataset(folder, out, shard_pairs=2, progress=False)
    assert written == ["pairs-00002", "pairs-00003"]  # the first two shards were kept
    assert not partial.exists()
    assert check_store(out, deep=True)[0].count == 7
    clean = pack_dataset(folder, tmp_path / "clean", shard_pairs=2, progress=False)
    for i in range(7):
        torch.testing.assert_close(StoredPairs(out)[i], StoredPairs(clean)[i], rtol=0, atol=0)


def test_a_changed_source_restarts_an_unfinished_pack(tmp_path, monkeypatch):
    folder = synthesize_dataset(tmp_path / "d", n=4, size=32)
    real, written = pack_module._write_shard, []

    def crash_after_one(*args, **kwargs):
        if written:
            raise KeyboardInterrupt
        written.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(pack_module, "_write_shard", crash_after_one)
    with pytest.raises(KeyboardInterrupt):
        pack_dataset(folder, tmp_path / "st", shard_pairs=2, progress=False)
    synthesize_dataset(folder, n=4, size=32, seed=9, overwrite=True)
    monkeypatch.setattr(pack_module, "_write_shard", real)
    store = pack_dataset(folder, tmp_path / "st", shard_pairs=2, progress=False)
    codes, _ = StoredPairs(store).load_codes(0)
    assert np.array_equal(codes, folder_splits(folder).train.load_codes(0)[0])


def test_overwrite_rules(tmp_path, synth):
    folder, store = synth
    out = tmp_path / "st"
    pack_dataset(folder, out, progress=False)
    with pytest.raises(DataError, match="already a packed store.*--overwrite"):
        pack_dataset(folder, out, progress=False)
    pack_dataset(folder, out, overwrite=True, progress=False)
    assert is_store(out) and not list(tmp_path.glob(".st.*"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="not a packed store"):
        pack_dataset(folder, other, overwrite=True, progress=False)
    assert (other / "notes.txt").read_text() == "mine"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert is_store(pack_dataset(folder, empty, progress=False))
    with pytest.raises(DataError, match="already a packed store"):
        pack_dataset(store, tmp_path / "again", progress=False)
    with pytest.raises(DataError, match="inside the dataset folder"):
        pack_dataset(folder, folder / "st", progress=False)


def test_bad_input_names_the_file_and_the_fix(tmp_path):
    folder = synthesize_dataset(tmp_path / "d", n=3, size=32)
    target = folder / "fujifilm" / "1.png"
    target.write_bytes(target.read_bytes()[:40])
    with pytest.raises(DataError, match=r"fujifilm/1\.png.*re-export"):
        pack_dataset(folder, tmp_path / "st", progress=False)
    (folder / "fujifilm" / "1.png").unlink()
    with pytest.raises(DataError, match=r"1\.png: missing partner"):
        pack_dataset(folder, tmp_path / "st", progress=False)
    with pytest.raises(DataError, match="does not exist"):
        pack_dataset(tmp_path / "nope", tmp_path / "st", progress=False)
    assert not (tmp_path / "st").exists()


def test_damaged_store_is_reported(tmp_path, synth):
    folder, _ = synth
    store = pack_dataset(folder, tmp_path / "st", progress=False)
    shard = store / "shards" / "train-00000.rgb.npy"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"train-00000\.rgb\.npy: contents do not match the recorded checksum"):
        folder_splits(store).train.load_codes(0)  # every reader checks the shards (once per file version)
    with pytest.raises(DataError, match=r"train-00000\.rgb\.npy: contents do not match"):
        check_store(store, deep=True)
    shard.unlink()
    with pytest.raises(DataError, match="shard of the store is missing"):
        folder_splits(store).train.load_codes(0)


def test_pairs_pickle_without_their_shards(synth):
    _, store = synth
    pairs = folder_splits(store).train
    pairs.load_codes(0)  # maps the shards
    clone = pickle.loads(pickle.dumps(pairs))
    assert len(pickle.dumps(pairs)) < 4096
    torch.testing.assert_close(clone[5], pairs[5], rtol=0, atol=0)


def test_train_two_steps_check_and_eval_from_a_store(tmp_path, synth, capsys):
    _, store = synth
    cfg = TrainConfig(model="mialgo_3conv", data=DataConfig(path=str(store), batch_size=2, patch=16),
                      stages=[StageConfig(steps=2)], val_every=2, ckpt_every=2, log_every=1)
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.step == 2 and np.isfinite(result.metrics["psnr"])
    assert main(["data", "check", str(store)]) == 0
    assert "packed store" in capsys.readouterr().out
    out_json = tmp_path / "eval.json"
    assert main(["eval", "--weights", str(tmp_path / "run/checkpoints/last.pt"), "--data", str(store),
                 "--split", "test", "--json", str(out_json)]) == 0
    report = json.loads(out_json.read_text())
    assert "test" in report["scored_on"] and set(report["results"]) == {"mialgo_3conv", "classic_isp"}


def test_integer_views_transform_like_augment_pair():
    rng = np.random.default_rng(0)
    packed, target = rng.integers(0, 1024, (4, 3, 5)).astype(np.uint16), rng.integers(0, 256, (3, 6, 10), np.uint8)
    for k in range(8):
        a = augment_views(packed, target, k)
        b = augment_pair(torch.from_numpy(packed.astype(np.int32)), torch.from_numpy(target), k)
        assert np.array_equal(a[0], b[0].numpy()) and np.array_equal(a[1], b[1].numpy())


def test_bit_depth_warning_comes_from_the_index(tmp_path, make_pairs, capsys):
    store = pack_dataset(make_pairs(tmp_path / "d", 3, size=16), tmp_path / "st", progress=False)
    stream = FolderStream(StoredPairs(store, white_level=255), patch=8)
    stream.batch(0, 3)
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "reach 1023" in err


def test_worker_batches_equal_in_process_batches(synth):
    _, store = synth
    runs = []
    for workers in (0, 1):
        cfg = TrainConfig(data=DataConfig(path=str(store), batch_size=3, patch=16, num_workers=workers))
        source = build_run_data(cfg.data, seed=1, validate=False).train
        runs.append(list(step_batches(source, cfg, 2, 5)))  # workers ship integer batches
    for (raw, target), (raw1, target1) in zip(*runs, strict=True):
        assert raw.dtype == raw1.dtype == torch.float32
        torch.testing.assert_close((raw, target), (raw1, target1), rtol=0, atol=0)


def test_a_finished_pack_run_again_has_nothing_to_do(tmp_path, capsys):
    folder = synthesize_dataset(tmp_path / "d", n=3, val=0, test=0, size=32)
    argv = ["data", "pack", str(folder), "--out", str(tmp_path / "st")]
    assert main(argv) == 0
    index = (tmp_path / "st" / "index.json").read_bytes()
    capsys.readouterr()
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert (tmp_path / "st" / "index.json").read_bytes() == index
    target = folder / "fujifilm" / "0.png"
    target.write_bytes(target.read_bytes())  # the source changed (new mtime): not "nothing to do" any more
    import os

    os.utime(target, ns=(1, 1))
    assert main(argv) == 2
    assert "is already a packed store. pass --overwrite" in capsys.readouterr().err


def test_shards_are_verified_once_per_file_version(tmp_path, synth, monkeypatch):
    import isplab.data.store as store_module

    _, store = synth
    calls = []
    monkeypatch.setattr(store_module, "shard_crc", lambda a: calls.append(1) or pack_module.shard_crc(a))
    monkeypatch.setattr("isplab.integrity._VERIFIED", set())
    monkeypatch.setenv("ISPLAB_CACHE_DIR", str(tmp_path / "cache"))
    folder_splits(store).train.load_codes(0)
    first = len(calls)
    assert first == 2 * 3  # every shard of the split (raw + rgb), hashed
    folder_splits(store).train.load_codes(0)
    monkeypatch.setattr("isplab.integrity._VERIFIED", set())  # a new process: the cache still knows them
    folder_splits(store).train.load_codes(1)
    assert len(calls) == first
