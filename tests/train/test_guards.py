"""Training guards (isplab.train.guards): divergence stops at once and keeps the last good checkpoint;
a collapsed model is reported; run folders and resumes are checked before any work."""

from __future__ import annotations

import json

import pytest
import torch

from isplab.cli import main
from isplab.config import from_dict, to_dict
from isplab.data import synthesize_dataset
from isplab.errors import IsplabError
from isplab.models.weights import load_checkpoint
from isplab.train.config import DataConfig, StageConfig, TrainConfig
from isplab.train.engine import train
from isplab.train.guards import DivergedError, check_step, collapse_warning, constant_image_psnr


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("g") / "synth", n=6, seed=2, size=64)


def config(data_dir, stages, **kw) -> TrainConfig:
    fields = {"val_every": 10, "ckpt_every": 10, "log_every": 1, "optim": {"lr": 1e-3}, **kw}
    cfg = TrainConfig(model="mialgo_3conv", data=DataConfig(path=str(data_dir), batch_size=2), stages=stages,
                      **fields)
    return from_dict(TrainConfig, to_dict(cfg))


def test_absurd_lr_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, data_dir):
    cfg = config(data_dir, [StageConfig(steps=10, name="good"), StageConfig(steps=10, name="absurd", lr=1e20)])
    run = tmp_path / "run"
    with pytest.raises(DivergedError, match=r"diverged .*stage absurd.*lower the learning rate"):
        train(cfg, run, progress=False)
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["step"] == 10  # the good stage's checkpoint, untouched
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_divergence_is_one_line_exit_2(tmp_path, data_dir, capsys):
    path = tmp_path / "absurd.yml"
    from isplab.config import dump_yaml

    path.write_text(dump_yaml(config(data_dir, [StageConfig(steps=3), StageConfig(steps=3, lr=1e30)])))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "diverged" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_check_step_catches_non_finite_loss_and_gradients(tmp_path):
    p = torch.nn.Parameter(torch.ones(2))
    p.grad = torch.tensor([1.0, float("nan")])
    with pytest.raises(DivergedError, match="gradient is not finite"):
        check_step(4, "s", torch.tensor(0.5), {"l1": 0.5}, [p], tmp_path)
    with pytest.raises(DivergedError, match=r"step 5 \(stage s\): loss inf \(l1 inf\)"):
        check_step(4, "s", torch.tensor(float("inf")), {"l1": float("inf")}, [], tmp_path)
    p.grad = torch.ones(2)
    check_step(4, "s", torch.tensor(0.5), {}, [p], tmp_path)  # finite: nothing happens


def test_collapse_is_reported_against_a_constant_image():
    from isplab.data.splits import EvalSet

    images = EvalSet.embedded("val", cameras=1)
    level = constant_image_psnr(images)
    assert 5 < level < 20
    assert collapse_warning(level + 0.2, level, step=100) is not None
    assert collapse_warning(level + 5.0, level, step=100) is None


def test_resuming_a_finished_run_does_nothing_and_says_so(tmp_path, data_dir, capsys):
    run = tmp_path / "done"
    argv = ["train", "--model", "mialgo_3conv", "--data", str(data_dir), "--out", str(run), "--steps", "2",
            "--batch-size", "2", "--no-progress"]
    assert main(argv) == 0
    capsys.readouterr()
    before = (run / "metrics.jsonl").read_text()
    assert main([*argv, "--resume"]) == 0
    assert "already finished (2 steps)" in capsys.readouterr().out
    assert (run / "metrics.jsonl").read_text() == before  # no duplicate record


def test_a_resume_rewrites_metrics_after_its_checkpoint(tmp_path, data_dir):
    cfg = config(data_dir, [StageConfig(steps=4)], val_every=1, ckpt_every=2)
    run = tmp_path / "r"
    train(cfg, run, stop_after=3, progress=False)
    with open(run / "metrics.jsonl", "a") as f:  # a kill after logging step 4, before its checkpoint
        f.write(json.dumps({"step": 4, "psnr": -1.0}) + "\n")
    train(cfg, run, resume=True, progress=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4] and records[-1]["psnr"] > 0


def test_run_folder_problems_are_found_before_any_work(tmp_path, data_dir, capsys):
    (tmp_path / "afile").write_text("precious")
    assert main(["train", "--model", "mialgo_3conv", "--out", str(tmp_path / "afile"), "--steps", "1"]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert (tmp_path / "afile").read_text() == "precious"
    assert main(["train", "--model", "mialgo_3conv", "--out", str(tmp_path / "new"), "--resume"]) == 2
    assert "no checkpoints/last.pt to resume" in capsys.readouterr().err


def test_resuming_another_models_run_names_both_models_before_any_work(tmp_path, monkeypatch, raising):
    import isplab.train.engine as engine
    from isplab.models import create_model
    from isplab.models.weights import model_checkpoint, save_checkpoint

    last = tmp_path / "r" / "checkpoints" / "last.pt"
    save_checkpoint(last, {**model_checkpoint("smallnet", {}, create_model("smallnet")), "step": 1})
    monkeypatch.setattr(engine, "create_model", raising(AssertionError("built the model before the check")))
    with pytest.raises(IsplabError, match=r"last.pt: holds a smallnet run, not mialgo_3conv\. Drop --model or "
                                          "choose another --out"):
        train(TrainConfig(model="mialgo_3conv"), tmp_path / "r", resume=True, progress=False)


def test_stale_temp_files_are_removed_at_the_next_run(tmp_path, data_dir, stale_temp):
    stale = stale_temp(tmp_path / "r" / "checkpoints", "last.pt")  # left by an interrupted earlier process
    train(config(data_dir, [StageConfig(steps=1)]), tmp_path / "r", progress=False)
    assert not stale.exists()
