"""Paired datasets (isplab.data.datasets): layouts, official-loader parity, augmentation, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from isplab.cli import main
from isplab.data import PairedRawDataset, check_dataset, find_splits
from isplab.data.sources import FolderStream
from isplab.data.splits import folder_eval_set
from isplab.errors import DataError

# ---- the official loaders' maths (PyNET / PyNET-v2 load_dataset.py), re-implemented inline -----------


def official_raw(path: Path) -> np.ndarray:
    import imageio.v2 as imageio

    raw = np.asarray(imageio.imread(path))
    ch_b, ch_gb, ch_r, ch_gr = raw[1::2, 1::2], raw[0::2, 1::2], raw[0::2, 0::2], raw[1::2, 0::2]
    return np.dstack((ch_b, ch_gb, ch_r, ch_gr)).astype(np.float32) / (4 * 255)  # (h, w, 4)


def official_target(path: Path) -> np.ndarray:
    # At full resolution (DSLR_SCALE = 2) the official resize is the identity; it then stores float16 / 255.
    return np.float16(np.asarray(Image.open(path))) / 255  # (H, W, 3)


@pytest.mark.parametrize(("layout", "size"), [("ultraisp", 256), ("zurich", 448)])
def test_tensors_equal_the_official_loader(tmp_path, layout, size, make_pairs):
    root = make_pairs(tmp_path / layout, n=2, layout=layout, size=size)
    dataset = PairedRawDataset(root)
    assert dataset.layout.name == layout and len(dataset) == 2
    for i in range(2):
        raw, target = dataset[i]
        raw_path, target_path = dataset.files(i)
        assert raw.dtype == target.dtype == torch.float32
        assert raw.shape == (4, size // 2, size // 2) and target.shape == (3, size, size)
        np.testing.assert_array_equal(raw.numpy(), official_raw(raw_path).transpose(2, 0, 1))
        assert raw.max() > 1  # unclipped, like the official loader
        rgb = np.asarray(Image.open(target_path))
        np.testing.assert_array_equal(target.numpy(), rgb.transpose(2, 0, 1).astype(np.float32) / 255)
        # The official loader keeps float16 precision; ours is float32 of the same rgb / 255.
        np.testing.assert_allclose(target.numpy(), official_target(target_path).transpose(2, 0, 1), atol=5e-4)


def test_split_folders_like_the_official_archives(tmp_path, make_pairs):
    make_pairs(tmp_path / "train", 3, size=16)
    make_pairs(tmp_path / "test", 2, size=16)
    (tmp_path / "full_resolution").mkdir()  # the Zurich archive's extra folder is ignored
    assert set(find_splits(tmp_path)) == {"train", "test"}
    assert len(PairedRawDataset(tmp_path, size=16)) == 3  # train by default
    assert len(PairedRawDataset(tmp_path, split="test", size=16)) == 2
    with pytest.raises(DataError, match="no split 'val'"):
        PairedRawDataset(tmp_path, split="val", size=16)
    summaries = check_dataset(tmp_path, size=16)
    assert [(s.split, s.count) for s in summaries] == [("test", 2), ("train", 3)]


def test_splits_without_train_need_an_explicit_split(tmp_path, make_pairs):
    make_pairs(tmp_path / "test", 1, size=16)
    with pytest.raises(DataError, match="point the dataset folder option at one split folder") as err:
        PairedRawDataset(tmp_path, size=16)
    assert f"e.g. {tmp_path / 'test'}" in str(err.value)
    assert "--split" not in str(err.value)  # `export --calib-data` reaches it too, and has no --split


def test_numeric_file_order_and_indices(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 12, size=8)
    dataset = PairedRawDataset(root, size=8)
    assert [p.stem for p in dataset.raw_files] == [str(i) for i in range(12)]  # 10 after 9, not after 1
    subset = PairedRawDataset(root, size=8, indices=[11, 2])
    assert len(subset) == 2 and subset.files(0)[0].name == "11.png"
    torch.testing.assert_close(subset[1][0], dataset[2][0])


def test_works_with_a_dataloader(tmp_path, make_pairs):
    dataset = PairedRawDataset(make_pairs(tmp_path / "d", 4, size=16), size=16)
    raw, target = next(iter(torch.utils.data.DataLoader(dataset, batch_size=4)))
    assert raw.shape == (4, 4, 8, 8) and target.shape == (4, 3, 16, 16)


# ---- bad input: one DataError naming the file and the fix -------------------------------------------


def test_missing_partner_file(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 3, size=16)
    (root / "fujifilm" / "1.png").unlink()
    dataset = PairedRawDataset(root, size=16)
    dataset[0]
    with pytest.raises(DataError, match=r"fujifilm/1\.png: missing partner file.*mediatek_raw/1\.png"):
        dataset[1]
    with pytest.raises(DataError, match=r"fujifilm/1\.png: missing partner"):
        dataset.validate()


def test_missing_raw_partner_found_by_validate(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 3, size=16)
    (root / "mediatek_raw" / "2.png").unlink()
    with pytest.raises(DataError, match=r"fujifilm/2\.png: missing partner file mediatek_raw/2\.png"):
        PairedRawDataset(root, size=16).validate()


def test_8bit_mosaic(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 2, size=16)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "mediatek_raw" / "1.png")
    dataset = PairedRawDataset(root, size=16)
    with pytest.raises(DataError, match=r"mediatek_raw/1\.png: 8-bit PNG.*16-bit"):
        dataset[1]
    with pytest.raises(DataError, match=r"mediatek_raw/1\.png: 8-bit"):
        dataset.validate()


@pytest.mark.parametrize("which", ["raw", "target"])
def test_wrong_size(tmp_path, which, make_pairs):
    root = make_pairs(tmp_path / "d", 2, size=16)
    if which == "raw":
        path = root / "mediatek_raw" / "1.png"
        Image.fromarray(np.zeros((14, 16), np.uint16)).save(path)
    else:
        path = root / "fujifilm" / "1.png"
        Image.fromarray(np.zeros((16, 8, 3), np.uint8)).save(path)
    dataset = PairedRawDataset(root)
    assert dataset.size == (16, 16)  # read off the first mosaic
    expected = rf"{path.parent.name}/1\.png: .* but the first mosaic \(0\.png\) is 16x16"
    with pytest.raises(DataError, match=expected):
        dataset.validate()
    with pytest.raises(DataError, match="is 16x16"):
        dataset[1]
    with pytest.raises(DataError, match="the dataset expects 32x32"):
        PairedRawDataset(root, size=32)[0]


def test_target_not_rgb(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 1, size=16)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "fujifilm" / "0.png")
    with pytest.raises(DataError, match=r"fujifilm/0\.png: target is mode L, expected 8-bit RGB"):
        PairedRawDataset(root, size=16)[0]


def test_truncated_png(tmp_path, make_pairs):
    root = make_pairs(tmp_path / "d", 2, size=64)
    path = root / "mediatek_raw" / "1.png"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    dataset = PairedRawDataset(root, size=64)
    with pytest.raises(DataError, match=r"mediatek_raw/1\.png: cannot decode PNG.*truncated"):
        dataset[1]
    with pytest.raises(DataError, match=r"mediatek_raw/1\.png"):
        dataset.validate(deep=True)


def test_empty_missing_and_unknown_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        PairedRawDataset(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: dataset folder is empty"):
        PairedRawDataset(tmp_path / "empty")
    (tmp_path / "other" / "photos").mkdir(parents=True)
    with pytest.raises(DataError, match=r"other: unknown dataset layout.*mediatek_raw/ \+ fujifilm/"):
        PairedRawDataset(tmp_path / "other")
    (tmp_path / "half" / "mediatek_raw").mkdir(parents=True)
    with pytest.raises(DataError, match=r"half/fujifilm: target folder is missing"):
        PairedRawDataset(tmp_path / "half")
    (tmp_path / "half" / "fujifilm").mkdir()
    with pytest.raises(DataError, match=r"half/mediatek_raw: no \.png raw files"):
        PairedRawDataset(tmp_path / "half")


# ---- CLI --------------------------------------------------------------------------------------------


def test_cli_check_ok(tmp_path, capsys, make_pairs):
    root = make_pairs(tmp_path / "d", 2)
    assert main(["data", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "ultraisp layout" in out and "2 pairs" in out and "256x256" in out


def test_cli_check_bad_input_is_one_line_without_traceback(tmp_path, capsys, make_pairs):
    root = make_pairs(tmp_path / "d", 2, size=16)
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(root / "mediatek_raw" / "1.png")
    assert main(["data", "check", str(root), "--size", "16"]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "mediatek_raw/1.png" in err and "8-bit" in err


def test_12_bit_codes_warn_in_data_check_train_and_eval(tmp_path, capsys, make_pairs):
    root = make_pairs(tmp_path / "d", 4, size=16)
    mosaic = np.random.default_rng(0).integers(0, 4096, (16, 16)).astype(np.uint16)
    Image.fromarray(mosaic).save(root / "mediatek_raw" / "0.png")  # a 12-bit set read as 10-bit
    start = f"warning: {root / 'mediatek_raw' / '0.png'}: sensor codes reach"

    def warnings_printed() -> list[str]:
        captured = capsys.readouterr()
        assert "warning" not in captured.out
        return [line for line in captured.err.splitlines() if line.startswith(start)]

    assert main(["data", "check", str(root), "--deep"]) == 0
    assert len(warnings_printed()) == 1
    stream = FolderStream(PairedRawDataset(root), patch=8)  # training
    for step in range(3):
        stream.batch(step, 4)
    (line,) = warnings_printed()  # one line, once
    assert line.endswith("Set data.white_level: 4095 (or re-export it as 10-bit) so raw values stay in [0, 1]")
    folder_eval_set(root, "all")  # eval
    assert len(warnings_printed()) == 1
