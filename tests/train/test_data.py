"""What a run's data says about its model (isplab.train.data.run_domain): levels and colour space, written into
every checkpoint and read back by eval, develop and export."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from isplab.camera.profile import ISPLAB_DOMAIN, LINEAR_SRGB_DOMAIN, RawDomain
from isplab.data import synthesize_dataset
from isplab.models.weights import load_checkpoint
from isplab.train.config import DataConfig, StageConfig, StreamConfig, TrainConfig
from isplab.train.data import run_domain
from isplab.train.engine import train


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("d") / "synth", n=6, seed=2, size=64)


def test_stream_runs_carry_their_family_s_colour_space():
    brooks = run_domain(DataConfig())
    assert brooks.colour_matrix == ISPLAB_DOMAIN.colour_matrix and brooks.neutral == ISPLAB_DOMAIN.neutral
    assert brooks.auto_exposure == pytest.approx(1 / 1.25) and brooks.white == (1020.0,) * 4
    spectral = run_domain(DataConfig(stream=StreamConfig(camera={"kind": "spectral", "bank": 2})))
    assert spectral.colour_matrix == LINEAR_SRGB_DOMAIN.colour_matrix and spectral.neutral == (1.0,) * 4


def test_folder_runs_carry_camera_json_or_a_profile_or_say_unknown(tmp_path, folder):
    synthetic = run_domain(DataConfig(path=str(folder), white_level=4095))
    assert synthetic.white == (4095.0,) * 4 and synthetic.colour_matrix is not None
    plain = tmp_path / "plain"
    (plain / "mediatek_raw").mkdir(parents=True)
    unknown = run_domain(DataConfig(path=str(plain)))
    assert unknown.colour_matrix is None and "colour space unknown" in unknown.camera
    profile = tmp_path / "camera.yml"
    cm = [[0.9, -0.2, -0.1], [-0.4, 1.3, 0.1], [-0.05, 0.2, 0.6]]
    profile.write_text(yaml.safe_dump({"black": 64, "white": 1023, "neutral": [0.6, 1, 0.45, 1], "colour_matrix": cm}))
    described = run_domain(DataConfig(path=str(plain), camera=str(profile), white_level=1023))
    # Folders are read as raw / white_level: the profile's black level stays in the input as a pedestal.
    assert described.black == (0.0,) * 4 and described.effective_black == (64.0,) * 4
    assert described.white == (1023.0,) * 4 and described.colour_matrix == tuple(map(tuple, cm))


def test_a_run_at_4095_is_evaluated_developed_and_exported_at_4095(tmp_path, folder, monkeypatch):
    cfg = TrainConfig(model="mialgo_3conv", data=DataConfig(path=str(folder), batch_size=2, white_level=4095),
                      stages=[StageConfig(steps=2)], val_every=2, ckpt_every=2, log_every=1)
    train(cfg, tmp_path / "run", progress=False)
    checkpoint = tmp_path / "run" / "checkpoints" / "last.pt"
    domain = RawDomain.from_dict(load_checkpoint(checkpoint)["raw_domain"])
    assert domain.white == (4095.0,) * 4
    # eval: the folder is read at the checkpoint's level, whatever the run's config says
    import isplab.data.splits as splits
    from isplab.evaluate import evaluate_checkpoint

    seen = []
    real = splits.folder_eval_set
    monkeypatch.setattr(splits, "folder_eval_set", lambda *a, **k: seen.append(a[3]) or real(*a, **k))
    evaluate_checkpoint(checkpoint, data=folder)
    assert seen == [4095.0]
    # develop: the runner maps frames into that domain; export: the same domain goes into the file
    from isplab.develop.torch_runners import TorchRunner
    from isplab.export.sources import load_export_model

    assert TorchRunner.from_checkpoint(checkpoint).domain.white == (4095.0,) * 4
    assert load_export_model(str(checkpoint), None)[2].white == (4095.0,) * 4
    assert np.isfinite(domain.auto_exposure)
