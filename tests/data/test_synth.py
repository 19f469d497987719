"""Synthetic default data by unprocessing (isplab.data.synth)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from isplab.cli import main
from isplab.data import (
    CameraParams,
    PairedRawDataset,
    default_data_dir,
    ensure_default_data,
    synth,
    synthesize_dataset,
)
from isplab.errors import DataError
from isplab.raw.bayer import pack

SIZE = 64  # small crops keep these tests fast


def read_split(folder, n):
    raws = [np.asarray(Image.open(folder / "mediatek_raw" / f"{i}.png")) for i in range(n)]
    targets = [np.asarray(Image.open(folder / "fujifilm" / f"{i}.png")) for i in range(n)]
    return np.stack(raws), np.stack(targets)


def test_layout_values_and_camera_json(tmp_path):
    out = synthesize_dataset(tmp_path / "d", n=4, seed=1, size=SIZE)
    assert out == tmp_path / "d"
    assert sorted(p.name for p in out.iterdir()) == ["camera.json", "fujifilm", "mediatek_raw"]
    with Image.open(out / "mediatek_raw" / "0.png") as raw, Image.open(out / "fujifilm" / "0.png") as rgb:
        assert raw.mode == "I;16" and raw.size == (SIZE, SIZE)
        assert rgb.mode == "RGB" and rgb.size == (SIZE, SIZE)
    raws, targets = read_split(out, 4)
    assert raws.dtype == np.uint16 and raws.max() <= 1020 and raws.max() > 500
    info = json.loads((out / "camera.json").read_text())
    assert info["format"] == synth.FORMAT and info["seed"] == 1 and info["n"] == 4 and info["cfa"] == "RGGB"
    assert info["camera"] == CameraParams().to_dict() and len(info["pairs"]) == 4
    assert {"source", "red_gain", "blue_gain", "shot_noise", "read_noise"} <= set(info["pairs"][0])
    assert {s["name"] for s in info["sources"]} >= {"astronaut", "chelsea", "coffee"}
    raw, target = PairedRawDataset(out, size=SIZE)[0]
    assert raw.shape == (4, SIZE // 2, SIZE // 2) and target.shape == (3, SIZE, SIZE)
    assert 0 <= raw.min() and raw.max() <= 1 and 0 <= target.min() and target.max() <= 1


def test_deterministic_for_a_seed(tmp_path):
    a = read_split(synthesize_dataset(tmp_path / "a", n=3, seed=5, size=SIZE), 3)
    b = read_split(synthesize_dataset(tmp_path / "b", n=3, seed=5, size=SIZE), 3)
    c = read_split(synthesize_dataset(tmp_path / "c", n=3, seed=6, size=SIZE), 3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_val_split(tmp_path):
    out = synthesize_dataset(tmp_path / "d", n=3, val=2, seed=0, size=SIZE)
    assert len(PairedRawDataset(out, size=SIZE)) == 3  # train by default
    assert len(PairedRawDataset(out, split="val", size=SIZE)) == 2
    info = json.loads((out / "camera.json").read_text())
    assert [(p["split"], p["index"]) for p in info["pairs"]] == [
        ("train", 0), ("train", 1), ("train", 2), ("val", 0), ("val", 1)]


def test_process_inverts_unprocess():
    camera = CameraParams()
    rng = np.random.default_rng(0)
    grey = rng.uniform(0.05, 0.8, (4, 1, 8, 8))  # low saturation: no camera-gamut clipping
    srgb = np.clip(grey + rng.uniform(-0.05, 0.05, (4, 3, 8, 8)), 0, 1).astype(np.float32)
    gains = (np.array([1.9, 2.4, 2.0, 2.2]), np.array([1.5, 1.9, 1.7, 1.6]), np.array([1.1, 1.4, 1.2, 1.3]))
    np.testing.assert_allclose(synth.process(synth.unprocess(srgb, camera, *gains), camera, *gains), srgb,
                               atol=1e-5)


def test_raw_is_consistent_with_target(tmp_path):
    """Crudely demosaic each raw, run the recorded ISP forward, and land close to the target."""
    camera = CameraParams()
    mosaics, targets, records = synth.synthesize_pairs(6, seed=0, camera=camera, size=SIZE)
    packed = np.stack([pack(m) for m in mosaics]).astype(np.float32) / 1020
    half_res = np.stack([packed[:, 2], (packed[:, 1] + packed[:, 3]) / 2, packed[:, 0]], axis=1)
    gains = [np.array([r[k] for r in records]) for k in ("red_gain", "blue_gain", "exposure_gain")]
    rendered = synth.process(half_res, camera, *gains)
    expected = targets.transpose(0, 3, 1, 2).reshape(6, 3, SIZE // 2, 2, SIZE // 2, 2).mean(axis=(3, 5)) / 255
    assert np.abs(rendered - expected).mean() < 0.08


def test_refuses_to_overwrite(tmp_path):
    out = synthesize_dataset(tmp_path / "d", n=2, seed=0, size=SIZE)
    before = (out / "fujifilm" / "0.png").read_bytes()
    with pytest.raises(DataError, match="not empty.*--overwrite"):
        synthesize_dataset(out, n=2, seed=1, size=SIZE)
    assert (out / "fujifilm" / "0.png").read_bytes() == before
    synthesize_dataset(out, n=3, seed=1, size=SIZE, overwrite=True)
    assert json.loads((out / "camera.json").read_text())["n"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temp folders left behind


def test_never_overwrites_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="refusing to overwrite"):
        synthesize_dataset(tmp_path / "mine", n=2, seed=0, size=SIZE, overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


def test_empty_existing_folder_is_fine(tmp_path):
    (tmp_path / "d").mkdir()
    assert len(PairedRawDataset(synthesize_dataset(tmp_path / "d", n=2, seed=0, size=SIZE), size=SIZE)) == 2


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(synth, "_write_split", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        synthesize_dataset(tmp_path / "d", n=2, seed=0, size=SIZE)
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="even"):
        synthesize_dataset(tmp_path / "d", n=2, size=63)
    with pytest.raises(DataError, match="larger than every source photo"):
        synthesize_dataset(tmp_path / "d", n=1, size=4096)
    with pytest.raises(DataError, match="n >= 1"):
        synthesize_dataset(tmp_path / "d", n=0)
    assert not (tmp_path / "d").exists()


def test_camera_params_from_dict_and_files(tmp_path):
    camera = CameraParams.from_dict({"red_gain": [2.0, 2.0], "shot_noise": [1e-4, 1e-3]})
    assert camera.red_gain == (2.0, 2.0) and camera.blue_gain == CameraParams().blue_gain
    assert CameraParams.from_dict(camera.to_dict()) == camera
    np.testing.assert_allclose(camera.srgb_to_cam.sum(axis=1), 1.0)
    with pytest.raises(DataError, match="unknown camera parameter.*red_gian"):
        CameraParams.from_dict({"red_gian": [1, 2]})
    with pytest.raises(DataError, match="invalid camera parameters.*blue_gain"):
        CameraParams.from_dict({"blue_gain": [2.0, 1.0]})
    with pytest.raises(DataError, match="invalid camera parameters.*xyz_to_cam"):
        CameraParams.from_dict({"xyz_to_cam": [[1, 0], [0, 1]]})
    (tmp_path / "cam.yml").write_text("red_gain: [2.0, 2.1]\nexposure_gain: [1.0, 1.0]\n")
    assert CameraParams.load(tmp_path / "cam.yml").exposure_gain == (1.0, 1.0)
    (tmp_path / "bad.yml").write_text("red_gain: [2.0, 2.1\n")
    with pytest.raises(DataError, match=r"bad\.yml: not valid YAML"):
        CameraParams.load(tmp_path / "bad.yml")
    # A dataset's camera.json reproduces its camera.
    out = synthesize_dataset(tmp_path / "d", n=1, seed=0, size=SIZE, camera=camera)
    assert CameraParams.load(out / "camera.json") == camera


def test_default_data_dir_and_ensure(tmp_path, monkeypatch):
    monkeypatch.setenv("ISPLAB_DATA", str(tmp_path / "default"))
    assert default_data_dir() == tmp_path / "default"
    root = ensure_default_data(n=2, seed=0, size=SIZE)
    stamp = (root / "camera.json").stat().st_mtime_ns
    assert ensure_default_data(n=2, seed=0, size=SIZE) == root
    assert (root / "camera.json").stat().st_mtime_ns == stamp  # not re-synthesised
    ensure_default_data(n=3, seed=0, size=SIZE)  # another n: made again
    assert len(PairedRawDataset(root, size=SIZE)) == 3
    monkeypatch.setenv("ISPLAB_DATA", str(tmp_path / "users"))
    (tmp_path / "users" / "mediatek_raw").mkdir(parents=True)
    assert ensure_default_data(n=2, size=SIZE) == tmp_path / "users"  # the user's own data, untouched
    monkeypatch.delenv("ISPLAB_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache" / "isplab" / "default-data"


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "d"
    assert main(["data", "synth", "--out", str(out), "--n", "2", "--seed", "3", "--size", str(SIZE)]) == 0
    assert "wrote 2 pairs" in capsys.readouterr().out
    assert main(["data", "synth", "--out", str(out), "--n", "2", "--size", str(SIZE)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "--overwrite" in err
    (tmp_path / "cam.yml").write_text("bogus: 1\n")
    assert main(["data", "synth", "--out", str(tmp_path / "e"), "--camera", str(tmp_path / "cam.yml")]) != 0
    assert "unknown camera parameter" in capsys.readouterr().err
