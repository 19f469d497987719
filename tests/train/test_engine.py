"""Training engine: determinism, exact resume after a kill, checkpoints, CLI."""

import pytest
import torch

from isplab.cli import main
from isplab.data import synthesize_dataset
from isplab.models.weights import load_checkpoint, load_model_from_checkpoint
from isplab.train.config import DataConfig, StageConfig, TrainConfig
from isplab.train.engine import lr_factor, train


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("d") / "synth", n=10, seed=1)


def tiny_config(data_dir, **kw) -> TrainConfig:
    base = dict(
        model="mialgo_3conv",
        data=DataConfig(path=str(data_dir), batch_size=2, val_fraction=0.2),
        stages=[StageConfig(steps=3, name="a"), StageConfig(steps=3, name="b", losses=[
            {"name": "l1"}, {"name": "ssim", "weight": 0.5}])],
        val_every=3, ckpt_every=3, log_every=1,
    )
    base.update(kw)
    from isplab.config import from_dict, to_dict

    return from_dict(TrainConfig, to_dict(TrainConfig(**base)))


def weights(run_dir):
    return load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]


def test_same_seed_same_numbers(tmp_path, data_dir):
    a = train(tiny_config(data_dir), tmp_path / "a", progress=False)
    b = train(tiny_config(data_dir), tmp_path / "b", progress=False)
    assert a.metrics["psnr"] == b.metrics["psnr"]
    for k, v in weights(tmp_path / "a").items():
        assert torch.equal(v, weights(tmp_path / "b")[k])


def test_resume_after_kill_is_exact(tmp_path, data_dir):
    cfg = tiny_config(data_dir)
    train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "killed", stop_after=3, progress=False)
    assert load_checkpoint(tmp_path / "killed/checkpoints/last.pt")["step"] == 3
    result = train(cfg, tmp_path / "killed", resume=True, progress=False)
    assert result.step == 6
    full, resumed = weights(tmp_path / "full"), weights(tmp_path / "killed")
    for k in full:
        assert torch.equal(full[k], resumed[k]), k
    state = load_checkpoint(tmp_path / "killed/checkpoints/last.pt")
    assert state["scheduler"]["last_epoch"] == 6 and state["optimizer"]["state"]


def test_refuses_to_overwrite_a_run(tmp_path, data_dir):
    from isplab.errors import IsplabError

    train(tiny_config(data_dir), tmp_path / "r", stop_after=1, progress=False)
    with pytest.raises(IsplabError, match="--resume"):
        train(tiny_config(data_dir), tmp_path / "r", progress=False)


def test_run_dir_contents_and_checkpoint_loads(tmp_path, data_dir):
    run = tmp_path / "run"
    train(tiny_config(data_dir), run, progress=False)
    assert (run / "config.yml").is_file() and (run / "metrics.jsonl").is_file()
    assert list((run / "tb").iterdir()), "no TensorBoard event file"
    model, state = load_model_from_checkpoint(run / "checkpoints" / "best.pt")
    assert state["model_name"] == "mialgo_3conv"
    assert model(torch.rand(1, 4, 8, 8)).shape == (1, 3, 16, 16)


def test_metrics_log_training_and_validation_time_apart(tmp_path, data_dir):
    import json

    cfg = tiny_config(data_dir)
    train(cfg, tmp_path / "r", stop_after=3, progress=False)
    train(cfg, tmp_path / "r", resume=True, progress=False)
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [3, 6]
    assert all({"psnr", "ssim", "delta_e", "train_s", "val_s"} <= set(r) for r in records)
    assert records[1]["train_s"] > records[0]["train_s"] > 0  # training time adds up over the resume


def test_embedded_stream_trains_and_validates_on_unseen_photos(tmp_path):
    cfg = tiny_config(None, data=DataConfig(batch_size=2, patch=32, stream={"eval_cameras": 1}),
                      stages=[StageConfig(steps=2)], val_every=2, ckpt_every=2)
    result = train(cfg, tmp_path / "e", progress=False)
    assert result.step == 2 and result.metrics["count"] == 1  # chelsea, one camera
    import yaml

    saved = yaml.safe_load((tmp_path / "e" / "config.yml").read_text())
    assert saved["data"]["path"] is None and saved["data"]["stream"]["eval_cameras"] == 1


def test_training_reduces_loss(tmp_path, data_dir):
    cfg = tiny_config(data_dir, stages=[StageConfig(steps=40)], val_every=40, ckpt_every=40,
                      optim={"lr": 3e-3})
    first = train(cfg.with_total_steps(1), tmp_path / "one", progress=False).metrics["psnr"]
    last = train(cfg, tmp_path / "many", progress=False).metrics["psnr"]
    assert last > first + 1.0


def test_schedules():
    cfg = TrainConfig(stages=[StageConfig(steps=100)], schedule={"name": "cosine", "warmup_steps": 10})
    from isplab.config import from_dict, to_dict

    cfg = from_dict(TrainConfig, to_dict(cfg))
    assert lr_factor(cfg, 0) == pytest.approx(0.1)
    assert lr_factor(cfg, 10) == pytest.approx(1.0)
    assert lr_factor(cfg, 100) == pytest.approx(0.0, abs=1e-9)
    step = from_dict(TrainConfig, {"stages": [{"steps": 10}], "schedule": {"name": "step", "step_size": 4}})
    assert [lr_factor(step, s) for s in (0, 4, 8)] == [1.0, 0.5, 0.25]


def test_cli_train_then_eval(tmp_path, data_dir, capsys):
    run = tmp_path / "cli"
    assert main(["train", "--model", "mialgo_3conv", "--data", str(data_dir), "--out", str(run),
                 "--steps", "2", "--batch-size", "2", "--no-progress"]) == 0
    out_json = tmp_path / "eval.json"
    assert main(["eval", "--weights", str(run / "checkpoints/last.pt"), "--data", str(data_dir),
                 "--json", str(out_json)]) == 0
    import json

    results = json.loads(out_json.read_text())["results"]
    assert set(results) == {"mialgo_3conv", "classic_isp"}
    assert all(0 < r["psnr"] < 100 and 0 < r["ssim"] <= 1 for r in results.values())


def test_cli_unknown_model_is_one_line_error(tmp_path, capsys):
    assert main(["train", "--model", "nope", "--out", str(tmp_path / "x"), "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "Traceback" not in err
