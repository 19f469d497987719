"""Packed stores (isplab.data.pack / isplab.data.store): same pairs, splits and batches as the folder."""

from __future__ import annotations

import json
import pickle
import shutil
import zlib

import numpy as np
import pytest
import torch

from isplab.cli import main
from isplab.data import pack as pack_module
from isplab.data import synthesize_dataset
from isplab.data.datasets import PairedRawDataset
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


def _flip_last_byte(path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


def test_damaged_store_is_reported(tmp_path, synth):
    folder, _ = synth
    store = pack_dataset(folder, tmp_path / "st", progress=False)
    shard = store / "shards" / "train-00000.rgb.npy"
    _flip_last_byte(shard)
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


def test_cli_pack_honours_shard_pairs_and_workers(tmp_path, synth, monkeypatch, capsys):
    folder, reference = synth
    pools = []
    real_pool = pack_module.ThreadPoolExecutor

    def pool(workers):
        pools.append(workers)
        return real_pool(workers)

    monkeypatch.setattr(pack_module, "ThreadPoolExecutor", pool)
    out = tmp_path / "cli.store"
    assert main(["data", "pack", str(folder), "--out", str(out), "--shard-pairs", "2", "--workers", "3"]) == 0
    printed = capsys.readouterr().out
    assert pools == [3] and f"packed 13 pairs of {folder} into {out}" in printed and f"--data {out}" in printed
    index = json.loads((out / "index.json").read_text())
    assert index["shard_pairs"] == 2
    assert [s["count"] for s in index["splits"]["train"]["shards"]] == [2, 2, 2, 2]  # 8 train pairs
    assert [s["count"] for s in index["splits"]["val"]["shards"]] == [2, 1]
    assert sorted(p.name for p in (out / "shards").glob("test-*")) == ["test-00000.raw.npy", "test-00000.rgb.npy"]
    for split in ("train", "val", "test"):  # the same pairs as the 3-pair store of the same folder
        a, b = StoredPairs(out, split), StoredPairs(reference, split)
        assert len(a) == len(b)
        for i in range(len(a)):
            torch.testing.assert_close(a[i], b[i], rtol=0, atol=0)
    assert main(["data", "pack", str(folder), "--out", str(out), "--shard-pairs", "3"]) == 2  # other shards, no
    err = capsys.readouterr().err.strip()  # --overwrite: one-line error
    assert len(err.splitlines()) == 1 and "--overwrite" in err
    assert main(["data", "pack", str(folder), "--out", str(tmp_path / "bad"), "--shard-pairs", "0"]) == 2
    assert "shard_pairs 0 must be >= 1" in capsys.readouterr().err and not (tmp_path / "bad").exists()


def test_zurich_layout_store(tmp_path, make_pairs):
    """Zurich RAW-to-RGB (huawei_raw/ + canon/*.jpg): packed and read like its folder, JPEG targets included."""
    folder = make_pairs(tmp_path / "zurich", 3, layout="zurich", size=16)
    store = pack_dataset(folder, tmp_path / "z.store", shard_pairs=2, progress=False)
    index = json.loads((store / "index.json").read_text())
    entry = index["splits"][""]
    assert entry["layout"] == "zurich" and entry["target_suffix"] == ".jpg" and entry["size"] == [16, 16]
    pairs, source = StoredPairs(store), PairedRawDataset(folder)
    assert pairs.layout.name == "zurich" and len(pairs) == 3
    assert pairs.files(1) == (folder / "huawei_raw" / "1.png", folder / "canon" / "1.jpg")
    for i in range(3):
        torch.testing.assert_close(pairs[i], source[i], rtol=0, atol=0)
    assert entry["max_code"] == max(int(source.load_codes(i)[0].max()) for i in range(3))
    assert check_store(store)[0].layout.name == "zurich"


def test_other_store_format_versions_are_refused(tmp_path, synth):
    _, store = synth
    copy = tmp_path / "st"
    shutil.copytree(store, copy)
    index = json.loads((copy / "index.json").read_text())
    (copy / "index.json").write_text(json.dumps({**index, "format": "isplab-store/2"}))
    with pytest.raises(DataError, match=r"index\.json.*store format 'isplab-store/2'; this isplab reads "
                                        r"isplab-store/1.*--overwrite"):
        StoredPairs(copy)
    with pytest.raises(DataError, match="store format 'isplab-store/2'"):
        folder_splits(copy)
    (copy / "index.json").write_text(json.dumps({**index, "format": "something-else/1"}))
    with pytest.raises(DataError, match="not a packed store"):
        StoredPairs(copy)


@pytest.mark.parametrize("damage", ["shape", "dtype", "garbage"])
def test_shards_of_the_wrong_shape_or_dtype_are_refused(tmp_path, synth, damage):
    _, store = synth
    copy = shutil.copytree(store, tmp_path / "st")
    shard = copy / "shards" / "train-00000.raw.npy"
    good = np.load(shard)
    bad = {"shape": good[:2], "dtype": good.astype(np.int32)}.get(damage)
    if bad is None:
        shard.write_bytes(b"not a numpy file at all")
    else:
        np.save(shard, bad)
    pairs = StoredPairs(copy)
    message = {"shape": r"holds uint16 \(2, 4, 16, 16\), the index says uint16 \(3, 4, 16, 16\)",
               "dtype": r"holds int32 \(3, 4, 16, 16\), the index says uint16 \(3, 4, 16, 16\)",
               "garbage": "cannot map shard"}[damage]
    with pytest.raises(DataError, match=rf"train-00000\.raw\.npy: .*{message}.*re-pack"):
        pairs.load_codes(0)
    with pytest.raises(DataError, match=message):
        check_store(copy)


def test_store_errors_name_the_store_the_problem_and_the_fix(tmp_path, synth):
    folder, store = synth
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=rf"^{empty}: is not a packed store \(no index\.json\)\. run `isplab data pack "
                                        r"DIR --out STORE`$"):
        StoredPairs(empty)
    (empty / "index.json").write_text(json.dumps([1, 2]))  # JSON, but not an index
    assert not is_store(empty)
    (empty / "index.json").write_text(json.dumps({"splits": {}}))  # no format at all
    assert not is_store(empty)
    with pytest.raises(DataError, match=rf"^{store}: no split 'tset'; splits found: test, train, val\. pick one of "
                                        "those splits, or omit the split for a store of a flat folder$"):
        StoredPairs(store, "tset")
    test_only = pack_dataset(folder / "test", tmp_path / "t.store", progress=False)
    with pytest.raises(DataError, match=r"no split 'train'; splits found: none \(packed from a single split\)"):
        StoredPairs(test_only, "train")
    val_test = tmp_path / "vt"
    for split in ("val", "test"):
        shutil.copytree(folder / split, val_test / split)
    vt_store = pack_dataset(val_test, tmp_path / "vt.store", progress=False)
    with pytest.raises(DataError, match=rf"^{tmp_path / 'vt.store'}: holds splits test, val but no train\. pick a "
                                        r"split \(e\.g\. --split test\), or pack a folder with a train/ split$"):
        StoredPairs(vt_store)
    assert len(StoredPairs(vt_store, "val")) == 3
    for size in (16, (32, 16)):
        with pytest.raises(DataError, match=rf"^{store}: split train holds 32x32 pairs, not "
                                            rf"{size if isinstance(size, int) else 32}x16\. drop the size option"):
            StoredPairs(store, "train", size=size)
    assert StoredPairs(store, "train", size=32).size == StoredPairs(store, "train", size=(32, 32)).size == (32, 32)
    with pytest.raises(ValueError, match=r"indices \[8, 9\] out of range for 8 pairs"):
        StoredPairs(store, "train", indices=[0, 7, 8, 9])
    with pytest.raises(ValueError, match=r"indices \[8, 9, 10, 11, 12\] out of range"):  # the first five named
        StoredPairs(store, "train", indices=list(range(14)))
    with pytest.raises(ValueError, match=r"indices \[-1\] out of range"):
        StoredPairs(store, "train", indices=[-1])


def test_store_pairs_know_their_split_files_and_options(synth):
    from isplab.data.store import open_pairs

    folder, store = synth
    pairs = StoredPairs(store)  # no split: the train split
    assert pairs.split == "train" and pairs.folder == store / "train" and pairs.target_suffix == ".png"
    assert pairs.files(2) == (folder / "train" / "mediatek_raw" / "2.png", folder / "train" / "fujifilm" / "2.png")
    codes, rgb = pairs.load_codes(4)
    assert not codes.flags.writeable and not rgb.flags.writeable  # views of the read-only map, not copies
    picked = open_pairs(store, "val", indices=[2, 0], size=32, white_level=255)
    assert isinstance(picked, StoredPairs) and picked.positions == [2, 0] and picked.white_level == 255
    torch.testing.assert_close(picked[0][0], StoredPairs(store, "val")[2][0] * (1020 / 255), rtol=1e-6, atol=0)
    with pytest.raises(DataError, match="holds 32x32 pairs, not 16x16"):
        open_pairs(store, "val", size=16)


def test_store_checks_report_what_they_found(tmp_path, synth, make_pairs):
    from isplab.data.store import shard_crc

    folder, store = synth
    index = json.loads((store / "index.json").read_text())
    (summary,) = check_store(store, split="val")
    assert (summary.root, summary.split, summary.count, summary.size, summary.layout.name, summary.warning) == (
        store, "val", 3, (32, 32), "ultraisp", None)
    assert summary.max_code == index["splits"]["val"]["max_code"] > 0
    with pytest.raises(DataError, match="holds 32x32 pairs, not 16x16"):
        check_store(store, split="val", size=16)
    loud = pack_dataset(make_pairs(tmp_path / "d", 2, size=16), tmp_path / "loud", progress=False)
    (summary,) = check_store(loud)
    assert summary.warning is None  # 1023 is within 10 bits
    warned = StoredPairs(loud, white_level=255).validate()
    assert warned.warning.startswith(f"{loud}: sensor codes reach 1023, beyond the white level 255")
    # checksums: zlib's CRC-32 of the bytes, also across its 64 MB pieces
    small = np.arange(1000, dtype=np.uint16).reshape(10, 100)
    assert shard_crc(small) == zlib.crc32(small.tobytes())
    big = np.random.default_rng(0).integers(0, 255, (3, 25 << 20), dtype=np.uint8)  # 75 MB: two pieces
    assert shard_crc(big) == zlib.crc32(big.tobytes())


def test_damaged_and_unfinished_stores_name_the_fix(tmp_path, synth):
    folder, _ = synth
    store = pack_dataset(folder, tmp_path / "st", progress=False)
    shard = store / "shards" / "val-00000.rgb.npy"
    _flip_last_byte(shard)
    for deep in (False, True):  # every shard is verified when first mapped (once per file version)
        with pytest.raises(DataError, match=rf"^{shard}: contents do not match the recorded checksum \(the file is "
                                            r"damaged or was changed\)\. run `isplab data pack DIR --out STORE "
                                            r"--overwrite` to re-pack the damaged store$"):
            StoredPairs(store, "val").validate(deep=deep)
    shard.unlink()
    with pytest.raises(DataError, match=rf"^{shard}: shard of the store is missing\. re-pack the dataset "
                                        r"\(`isplab data pack DIR --out STORE --overwrite`\)$"):
        StoredPairs(store, "val").load_codes(0)
    np.save(shard, np.zeros((3, 3, 32, 32), np.uint16))
    with pytest.raises(DataError, match=r"the index says uint8 \(3, 3, 32, 32\)\. the store is damaged: re-pack it "
                                        "with --overwrite$"):
        StoredPairs(store, "val").load_codes(0)
    shard.write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"cannot map shard \(.*\)\. the store is damaged: re-pack it with "
                                        "--overwrite$"):
        StoredPairs(store, "val").load_codes(0)
    index = json.loads((store / "index.json").read_text())
    (store / "index.json").write_text(json.dumps({**index, "format": "isplab-store/9"}))
    with pytest.raises(DataError, match=r"re-pack the dataset folder with this isplab \(`isplab data pack DIR --out "
                                        r"STORE --overwrite`\)$"):
        StoredPairs(store)
    partial = tmp_path / "unfinished"
    partial.mkdir()
    (partial / "plan.json").write_text("{}")
    with pytest.raises(DataError, match=rf"^{partial}: is an unfinished pack \(no index\.json\)\. re-run the same "
                                        r"`isplab data pack` command to finish it \(it resumes\)$"):
        folder_splits(partial)
