"""Synthetic dataset folders (isplab.data.synth) and the camera family they are made with."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from isplab.cli import main
from isplab.data import CameraFamily, PairedRawDataset, synth, synthesize_dataset
from isplab.errors import DataError

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
    raws, _ = read_split(out, 4)
    assert raws.dtype == np.uint16 and raws.max() <= 1020 and raws.max() > 300
    info = json.loads((out / "camera.json").read_text())
    assert info["format"] == synth.FORMAT and info["seed"] == 1 and info["cfa"] == "RGGB"
    assert info["counts"] == {"train": 4, "val": 0, "test": 0}
    assert info["camera"] == CameraFamily().to_dict() and len(info["pairs"]) == 4
    assert {"photo", "box", "transform", "camera"} <= set(info["pairs"][0])
    assert info["photos"]["test"] == ["motorcycle_left"]
    raw, target = PairedRawDataset(out, size=SIZE)[0]
    assert raw.shape == (4, SIZE // 2, SIZE // 2) and target.shape == (3, SIZE, SIZE)


def test_splits_come_from_disjoint_photos(tmp_path):
    out = synthesize_dataset(tmp_path / "d", n=6, val=3, test=2, seed=0, size=SIZE)
    assert sorted(p.name for p in out.iterdir()) == ["camera.json", "test", "train", "val"]
    counts = {s: len(PairedRawDataset(out, split=s, size=SIZE)) for s in ("train", "val", "test")}
    assert counts == {"train": 6, "val": 3, "test": 2}
    info = json.loads((out / "camera.json").read_text())
    by_split = {s: {p["photo"] for p in info["pairs"] if p["split"] == s} for s in counts}
    assert by_split["train"] <= set(info["photos"]["train"])
    assert by_split["val"] <= set(info["photos"]["val"]) and by_split["test"] <= set(info["photos"]["test"])
    assert not by_split["train"] & (by_split["val"] | by_split["test"])


def test_deterministic_for_a_seed(tmp_path):
    a = read_split(synthesize_dataset(tmp_path / "a", n=3, seed=5, size=SIZE), 3)
    b = read_split(synthesize_dataset(tmp_path / "b", n=3, seed=5, size=SIZE), 3)
    c = read_split(synthesize_dataset(tmp_path / "c", n=3, seed=6, size=SIZE), 3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_files_hold_exactly_the_stream_pairs(tmp_path):
    """What the folder stores is what training on the fly would see (same seed, same photos)."""
    from isplab.data import SyntheticStream

    out = synthesize_dataset(tmp_path / "d", n=2, seed=4, size=SIZE)
    raw, target = SyntheticStream(patch=SIZE, seed=4).batch(step=0, size=2)
    for i in range(2):
        stored_raw, stored_target = PairedRawDataset(out, size=SIZE)[i]
        np.testing.assert_array_equal(stored_raw.numpy(), raw[i].numpy())
        np.testing.assert_allclose(stored_target.numpy(), target[i].numpy(), atol=0.5 / 255 + 1e-6)


def test_refuses_to_overwrite(tmp_path):
    out = synthesize_dataset(tmp_path / "d", n=2, seed=0, size=SIZE)
    before = (out / "fujifilm" / "0.png").read_bytes()
    with pytest.raises(DataError, match="not empty.*--overwrite"):
        synthesize_dataset(out, n=2, seed=1, size=SIZE)
    assert (out / "fujifilm" / "0.png").read_bytes() == before
    synthesize_dataset(out, n=3, seed=1, size=SIZE, overwrite=True)
    assert json.loads((out / "camera.json").read_text())["counts"]["train"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temp folders left behind


def test_never_overwrites_a_foreign_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(DataError, match="refusing to overwrite"):
        synthesize_dataset(tmp_path / "mine", n=2, seed=0, size=SIZE, overwrite=True)
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"


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
    with pytest.raises(DataError, match="larger than"):
        synthesize_dataset(tmp_path / "d", n=1, size=4096)
    with pytest.raises(DataError, match="n >= 1"):
        synthesize_dataset(tmp_path / "d", n=0)
    assert not (tmp_path / "d").exists()


def test_camera_family_from_dict_and_files(tmp_path):
    camera = CameraFamily.from_dict({"red_gain": [2.0, 2.0], "shot_noise": [1e-4, 1e-3], "black_level": [0, 16]})
    assert camera.red_gain == (2.0, 2.0) and camera.blue_gain == CameraFamily().blue_gain
    assert CameraFamily.from_dict(camera.to_dict()) == camera
    np.testing.assert_allclose(camera.nominal_srgb_to_cam.sum(axis=1), 1.0)
    with pytest.raises(DataError, match="unknown camera parameter.*red_gian"):
        CameraFamily.from_dict({"red_gian": [1, 2]})
    with pytest.raises(DataError, match="invalid camera parameters.*blue_gain"):
        CameraFamily.from_dict({"blue_gain": [2.0, 1.0]})
    with pytest.raises(DataError, match="invalid camera parameters.*xyz_to_cam"):
        CameraFamily.from_dict({"xyz_to_cam": [[1, 0], [0, 1]]})
    (tmp_path / "cam.yml").write_text("red_gain: [2.0, 2.1]\nexposure_gain: [1.0, 1.0]\n")
    assert CameraFamily.load(tmp_path / "cam.yml").exposure_gain == (1.0, 1.0)
    (tmp_path / "bad.yml").write_text("red_gain: [2.0, 2.1\n")
    with pytest.raises(DataError, match=r"bad\.yml: not valid YAML"):
        CameraFamily.load(tmp_path / "bad.yml")
    out = synthesize_dataset(tmp_path / "d", n=1, seed=0, size=SIZE, camera=camera)  # camera.json round trip
    assert CameraFamily.load(out / "camera.json") == camera


def test_a_family_of_matrices_mixes_them_per_sample():
    family = CameraFamily(xyz_to_cam=[CameraFamily().xyz_to_cam, [[0.8, -0.2, -0.1], [-0.3, 1.1, 0.2],
                                                                 [-0.1, 0.1, 0.6]]])
    draw = family.draw(5, np.random.default_rng(0))
    assert draw.srgb_to_cam.shape == (5, 3, 3) and len({m.tobytes() for m in draw.srgb_to_cam}) == 5
    np.testing.assert_allclose(draw.srgb_to_cam.sum(axis=-1), 1.0)  # white stays white after WB


def test_cli_synth(tmp_path, capsys):
    out = tmp_path / "d"
    args = ["data", "synth", "--out", str(out), "--n", "2", "--val", "1", "--test", "1", "--seed", "3",
            "--size", str(SIZE)]
    assert main(args) == 0
    assert "wrote 2 training + 1 val + 1 test pairs" in capsys.readouterr().out
    assert main(["data", "synth", "--out", str(out), "--n", "2", "--size", str(SIZE)]) != 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "--overwrite" in err
    (tmp_path / "cam.yml").write_text("bogus: 1\n")
    assert main(["data", "synth", "--out", str(tmp_path / "e"), "--camera", str(tmp_path / "cam.yml")]) != 0
    assert "unknown camera parameter" in capsys.readouterr().err
