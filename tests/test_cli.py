"""The thin CLI commands owned by no other test module: models, import."""

import numpy as np
import pytest
import torch

from isplab.camera.profile import ULTRAISP_MAI_DOMAIN
from isplab.cli import main
from isplab.models.weights import load_model_from_checkpoint, raw_domain


def test_models_lists_every_registered_model(capsys):
    from isplab import list_models

    assert main(["models", "microisp*"]) == 0
    out = capsys.readouterr().out
    assert "microisp " in out and "13,560" in out and "microisp_0.5" in out
    assert set(list_models("microisp*")) == {"microisp", "microisp_0.5"}


def test_import_official_microisp_gives_a_loadable_checkpoint(tmp_path, shared_file, capsys):
    ckpt = tmp_path / "official.pt"
    src = shared_file("peers", "microisp-official", "MicroISP.tflite")
    assert main(["import", "microisp", "--from", str(src), "--out", str(ckpt)]) == 0
    model, state = load_model_from_checkpoint(ckpt)
    assert state["model_name"] == "microisp"
    # the domain the official weights were trained in (MAI raws: / 1020, pedestal kept), calibrated on import
    domain = raw_domain(state)
    assert domain.with_neutral(None) == ULTRAISP_MAI_DOMAIN and "neutral (B, Gr, R, Gb)" in capsys.readouterr().out
    np.testing.assert_allclose(domain.neutral, (0.716, 1.0, 0.748, 1.0), atol=0.01)  # benchmarks/real_chart.md
    from isplab.export.tflite_weights import load_tflite_model

    reference = load_tflite_model("microisp", src)
    x = torch.rand(1, 4, 80, 80)
    assert torch.equal(model(x), reference(x))


def test_import_unknown_model_is_one_line_error(tmp_path, capsys):
    assert main(["import", "nope", "--from", "x.tflite", "--out", str(tmp_path / "x.pt")]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err


def test_import_input_scale_sets_the_white_level_and_a_failed_calibration_keeps_the_import(
        tmp_path, shared_file, capsys, monkeypatch):
    import isplab.camera.calibrate as calibrate
    from isplab.errors import IsplabError

    def fail(path, *args, **kwargs):
        raise IsplabError(f"{path}: calibration did not converge (neutral [nan])")

    monkeypatch.setattr(calibrate, "calibrate_checkpoint", fail)
    src = shared_file("peers", "jmu-cvlab-mai22", "model.tflite")
    ckpt = tmp_path / "jmu.pt"
    assert main(["import", "jmu_cvlab", "--from", str(src), "--out", str(ckpt), "--input-scale", "4095"]) == 0
    assert "warning:" in capsys.readouterr().out and ckpt.is_file()  # kept, and told how to retry
    domain = raw_domain(load_model_from_checkpoint(ckpt)[1])
    assert domain.white == (4095.0,) * 4 and domain.sensor_black == ULTRAISP_MAI_DOMAIN.sensor_black
    assert domain.neutral is None


@pytest.fixture
def full_disk(monkeypatch, tmp_path):
    """``full_disk(prefix)``: atomic writes of files whose temp name starts with ``prefix`` go to /dev/full
    (every write fails with ENOSPC, as on a full disk)."""
    import os
    import tempfile

    real = tempfile.mkstemp

    def make(prefixes):
        def mkstemp(*args, prefix="", **kwargs):
            if prefix.startswith(prefixes):
                return os.open("/dev/full", os.O_WRONLY), str(tmp_path / "never-written.tmp")
            return real(*args, prefix=prefix, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)

    return make


def test_a_full_disk_in_train_is_one_line_naming_the_file(tmp_path, capsys, full_disk):
    from isplab.data import synthesize_dataset

    data = synthesize_dataset(tmp_path / "data", n=2, val=1, test=0, size=32)
    full_disk((".last.pt", ".best.pt"))  # the config is written, the first checkpoint hits the full disk
    argv = ["train", "--model", "mialgo_3conv", "--data", str(data), "--out", str(tmp_path / "run"), "--steps", "1",
            "--batch-size", "1", "--no-progress"]
    assert main(argv) == 2
    err = [line for line in capsys.readouterr().err.strip().splitlines() if not line.startswith("warning:")]
    assert len(err) == 1 and "Traceback" not in err[0], err
    err = err[0]
    assert "checkpoints/best.pt: No space left on device. Free space on that disk" in err, err


def test_a_full_disk_in_export_is_one_line_naming_the_file(tmp_path, capsys, full_disk):
    full_disk((".m.tflite",))
    assert main(["export", "--model", "smallnet", "--input-size", "16x16", "--out", str(tmp_path / "m.tflite")]) == 2
    err = capsys.readouterr().err  # the converter's own log lines come first
    assert "Traceback" not in err and err.strip().splitlines()[-1] == (
        f"isplab export: error: {tmp_path / 'm.tflite'}: No space left on device. Free space on that disk, or write "
        "the output elsewhere; what existed before is intact"), err
    assert not (tmp_path / "m.tflite").exists()


def test_an_import_interrupted_during_calibration_leaves_no_uncalibrated_checkpoint(tmp_path, capsys, monkeypatch):
    import isplab.camera.calibrate as calibrate
    from isplab.models import create_model

    torch.save(create_model("mialgo_3conv").state_dict(), tmp_path / "efficientisp.pth")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # or kill -9: the checkpoint is not at --out before it is calibrated

    monkeypatch.setattr(calibrate, "calibrate_checkpoint", interrupted)
    out = tmp_path / "imported.pt"
    assert main(["import", "efficientisp", "--from", str(tmp_path / "efficientisp.pth"), "--out", str(out)]) == 130
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["efficientisp.pth"]
    monkeypatch.undo()
    assert main(["import", "efficientisp", "--from", str(tmp_path / "efficientisp.pth"), "--out", str(out)]) == 0
    assert load_model_from_checkpoint(out)[1]["model_name"] == "mialgo_3conv"  # published once calibrated
    assert sorted(p.name for p in tmp_path.iterdir()) == ["efficientisp.pth", "imported.pt"]
    card = tmp_path / "imported.safetensors"  # calibrated through a temp file, written in --out's format
    assert main(["import", "efficientisp", "--from", str(tmp_path / "efficientisp.pth"), "--out", str(card)]) == 0
    assert card.read_bytes()[8:9] == b"{"  # a safetensors header, not a pickle
    weights, reference = (load_model_from_checkpoint(p)[0].state_dict() for p in (card, out))
    assert all(torch.equal(weights[k], reference[k]) for k in reference)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["efficientisp.pth", "imported.pt", "imported.safetensors"]


def test_accel_status_and_check_without_toolchains_fail_loudly(tmp_path, capsys, shared_file):
    from isplab.cli import main

    assert main(["accel", "status", "--cache", str(tmp_path)]) == 1
    assert "isplab accel setup" in capsys.readouterr().out
    jmu = shared_file("peers", "jmu-cvlab-mai22", "model.tflite")
    assert main(["accel", "check", str(jmu), "--tile", "128x160", "--cache", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL htp:SM8450: NOT CHECKED" in out and "FAIL gpu: NOT CHECKED" in out
