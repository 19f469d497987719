"""``isplab adapt``: few-shot fine-tuning from given weights on the first N pairs of a folder."""

from __future__ import annotations

import pytest
import yaml

from isplab.cli import main
from isplab.data import CameraFamily, synthesize_dataset
from isplab.data.camera import BROOKS_MATRICES
from isplab.errors import IsplabError
from isplab.models.weights import load_checkpoint, pretrained_path
from isplab.train.adapt import adapt_config
from isplab.train.config import DataConfig
from isplab.train.data import build_run_data


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("adapt") / "cam", n=4, val=2, seed=3, size=32)


@pytest.fixture(scope="module")
def unseen_camera(tmp_path_factory):
    """Pairs of a camera outside the pretraining family (benchmarks/few_shot.py's camera B: another colour
    matrix, white-balance gains the family never draws, black level 48)."""
    camera = CameraFamily(xyz_to_cam=BROOKS_MATRICES[1], red_gain=(1.2, 1.4), blue_gain=(2.6, 3.0),
                          black_level=(48.0, 48.0))
    return synthesize_dataset(tmp_path_factory.mktemp("unseen") / "cam", n=4, val=2, seed=1, size=64, camera=camera)


def test_adapting_to_an_unseen_camera_improves_its_validation_score(unseen_camera, tmp_path, capsys):
    """The default learning rate, 100 steps on 4 pairs: the val PSNR rises by dB (a run that does not learn,
    e.g. a learning rate lost on the way to the optimiser, stays where the pretrained weights are)."""
    import json

    from isplab.data.splits import folder_eval_set
    from isplab.evaluate import evaluate
    from isplab.models.weights import load_model_from_checkpoint

    val = folder_eval_set(unseen_camera, "val")
    before = evaluate(load_model_from_checkpoint("pretrained:smallnet")[0], val)
    out = tmp_path / "run"
    assert main(["adapt", "--weights", "pretrained:smallnet", "--data", str(unseen_camera), "--out", str(out),
                 "--shots", "4", "--steps", "100", "--no-progress"]) == 0
    after = evaluate(load_model_from_checkpoint(out / "checkpoints" / "last.pt")[0], val)
    logged = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert logged["psnr"] == pytest.approx(after["psnr"], abs=1e-4)  # the run scored what it saved
    assert after["psnr"] > before["psnr"] + 2.0 and after["delta_e"] < before["delta_e"]
    assert f"psnr {after['psnr']:.4f}" in capsys.readouterr().out


def test_adapt_cli_starts_from_weights_and_uses_only_n_pairs(folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["adapt", "--weights", "pretrained:smallnet", "--data", str(folder), "--out", str(out),
                 "--shots", "2", "--steps", "2", "--lr", "1e-7", "--no-progress"]) == 0
    assert "2 pair(s)" in capsys.readouterr().out
    saved = yaml.safe_load((out / "config.yml").read_text())
    assert saved["init"] == "pretrained:smallnet" and saved["data"]["shots"] == 2 and saved["model"] == "smallnet"
    assert saved["stages"][0]["steps"] == 2
    start = load_checkpoint(pretrained_path("smallnet"))["model"]
    end = load_checkpoint(out / "checkpoints" / "last.pt")["model"]
    # two steps at lr 1e-7 barely move the pretrained weights (a fresh init would be far away)
    assert max((end[k].float() - start[k].float()).abs().max().item() for k in start) < 1e-5
    data = build_run_data(DataConfig(path=str(folder), shots=2, patch=None), seed=0)
    assert len(data.train.dataset) == 2 and data.train.dataset.positions == [0, 1]


def test_adapt_cli_too_many_shots_is_one_line_error(folder, tmp_path, capsys):
    assert main(["adapt", "--weights", "pretrained:smallnet", "--data", str(folder), "--out",
                 str(tmp_path / "run"), "--shots", "9", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--shots 9" in err and "only 4 training pairs" in err
    assert not (tmp_path / "run").exists()


def test_adapt_config_defaults_and_checks(folder):
    cfg = adapt_config("pretrained:smallnet", folder, shots=3)
    assert cfg.init == "pretrained:smallnet" and cfg.schedule.name == "cosine" and cfg.data.shots == 3
    assert cfg.data.patch is None  # 32x32 pairs: smaller than the default crop, so whole pairs
    with pytest.raises(IsplabError, match="--steps"):
        adapt_config("pretrained:smallnet", folder, steps=0)
    with pytest.raises(IsplabError, match="--data"):
        adapt_config("pretrained:smallnet", folder / "missing")
    with pytest.raises(Exception, match="shots"):
        build_run_data(DataConfig(path=str(folder), shots=5), seed=0)
    with pytest.raises(Exception, match="shots"):
        build_run_data(DataConfig(path=None, shots=2), seed=0)


def test_adapt_config_is_the_documented_recipe(tmp_path):
    """docs/camera.md's recipe, field by field: L1 (the default stage), cosine from --lr to 1% of it, batch 8
    of 128x128 crops with flips, validation every third of the run, one checkpoint at the end."""
    big = synthesize_dataset(tmp_path / "big", n=3, val=1, seed=2, size=256)
    cfg = adapt_config("pretrained:smallnet", big, shots=2, steps=31, lr=2e-3, seed=7, device="cpu", amp="bf16")
    assert (cfg.model, cfg.seed, cfg.init, cfg.device, cfg.amp) == ("smallnet", 7, "pretrained:smallnet", "cpu", "bf16")
    assert cfg.model_kwargs == load_checkpoint(pretrained_path("smallnet")).get("model_kwargs", {})
    d = cfg.data
    assert (d.path, d.batch_size, d.patch, d.augment, d.val_max, d.shots) == (str(big), 8, 128, True, 16, 2)
    assert cfg.optim.lr == 2e-3 and (cfg.schedule.name, cfg.schedule.min_lr) == ("cosine", pytest.approx(2e-5))
    assert [(s.steps, s.name) for s in cfg.stages] == [(31, "adapt")] and cfg.total_steps == 31
    assert [loss.name for loss in cfg.stages[0].losses] == ["l1"]
    assert (cfg.val_every, cfg.ckpt_every, cfg.log_every) == (10, 31, 10)
    assert adapt_config("pretrained:smallnet", big, shots=3, steps=2).val_every == 1
    smallest = adapt_config("pretrained:smallnet", big, shots=1, steps=1)  # the smallest valid run
    assert (smallest.data.shots, smallest.total_steps, smallest.seed) == (1, 1, 0)
    assert adapt_config("pretrained:smallnet", big, shots=3, patch=256).data.patch == 256  # fits: kept
    assert adapt_config("pretrained:smallnet", big, shots=3, patch=None).data.patch is None
    assert adapt_config("pretrained:smallnet", big, shots=3, batch_size=4).data.batch_size == 4
    for kwargs, message in (({"shots": 0}, "--shots 0 must be >= 1. use e.g. --shots 10"),
                            ({"shots": 3, "steps": 0}, "--steps 0 must be >= 1. omit it for the default 300"),
                            ({"shots": 3, "lr": 0.0}, "--lr 0.0 must be > 0. omit it for the default 0.0003"),
                            ({"shots": 4}, "--shots 4: .* holds only 3 training pairs. use --shots 3 or fewer")):
        with pytest.raises(IsplabError, match=message):
            adapt_config("pretrained:smallnet", big, **kwargs)
    with pytest.raises(IsplabError, match=r"--data .*missing is not a folder. point it at a paired dataset folder "
                                          r"\(UltraISP layout: mediatek_raw/ \+ fujifilm/, or train/ val/ test/"):
        adapt_config("pretrained:smallnet", big / "missing")


def test_adapt_keeps_the_checkpoints_model_arguments(folder, tmp_path):
    from isplab.models import create_model
    from isplab.models.weights import save_checkpoint

    ckpt = save_checkpoint(tmp_path / "narrow.pt", {"model_name": "smallnet", "model_kwargs": {"channels": 8},
                                                     "model": create_model("smallnet", channels=8).state_dict()})
    cfg = adapt_config(str(ckpt), folder, shots=2)
    assert (cfg.model, cfg.model_kwargs, cfg.init) == ("smallnet", {"channels": 8}, str(ckpt))
    plain = create_model("smallnet").state_dict()
    bare = save_checkpoint(tmp_path / "bare.pt", {"model_name": "smallnet", "model": plain})
    assert adapt_config(str(bare), folder, shots=2).model_kwargs == {}  # an older checkpoint without the key
