"""End-to-end ``isplab challenge`` with the tiny budget: train, eval, export, bench, score, leaderboard."""

import json

import pytest

from isplab.challenge import BUDGETS, DEFAULT_MODELS, challenge_config
from isplab.cli import main


@pytest.fixture(scope="module")
def challenge_out(tmp_path_factory):
    root = tmp_path_factory.mktemp("challenge")
    data = root / "data"
    from isplab.data import synthesize_dataset

    synthesize_dataset(data, n=BUDGETS["tiny"].synth_n, seed=0)
    out = root / "out"
    args = ["challenge", "--out", str(out), "--budget", "tiny", "--models", "mialgo_3conv,microisp",
            "--data", str(data), "--no-progress"]
    assert main(args) == 0
    return out, args


def test_writes_leaderboard_and_results(challenge_out):
    out, _ = challenge_out
    results = {r["model"]: r for r in json.loads((out / "results.json").read_text())}
    assert set(results) == {"mialgo_3conv", "microisp", "classic_isp"}
    for name in ("mialgo_3conv", "microisp"):
        r = results[name]
        assert r["gpu_audit"] == "pass" and r["cpu_runtime_ms"] > 0 and r["size_mb"] > 0
        assert r["extra"]["parity_max_abs"] <= 1e-4
        assert (out / "models" / name / "model.tflite").is_file()
        assert len(r["crops"]) == 4
    assert results["microisp"]["relative_score"] == pytest.approx(1.0)
    md = (out / "leaderboard.md").read_text()
    assert "| microisp |" in md and "MicroISP 1.0" in md
    html = (out / "leaderboard.html").read_text()
    assert "data:image/png;base64," in html


def test_rerun_skips_finished_models(challenge_out, capsys):
    out, args = challenge_out
    before = (out / "models/microisp/result.json").stat().st_mtime_ns
    assert main(args) == 0
    assert "finished earlier" in capsys.readouterr().out
    assert (out / "models/microisp/result.json").stat().st_mtime_ns == before


def test_budget_cuts_recipe():
    cfg = challenge_config("microisp", BUDGETS["quick"], None)
    assert cfg.total_steps == BUDGETS["quick"].steps and len(cfg.stages) == 2
    assert cfg.optim.lr == pytest.approx(1e-3)  # recipe lr 1e-4 x the quick budget's lr_scale 10
    pynet = challenge_config("pynetv2_mobile", BUDGETS["quick"], None)
    assert [s.lr for s in pynet.stages] == [None, pytest.approx(5e-4), pytest.approx(5e-4)]
    assert challenge_config("pynetv2_mobile", BUDGETS["tiny"], None).total_steps == 3  # one per stage


@pytest.mark.parametrize("model", DEFAULT_MODELS)
def test_default_recipes_need_no_external_files(model):
    """The main job must run on a fresh machine: no perceptual weights or teacher checkpoints."""
    from isplab import create_model
    from isplab.train.objectives import create_objective

    cfg = challenge_config(model, BUDGETS["tiny"], None)
    net = create_model(model)
    for stage in cfg.stages:
        create_objective(stage.objective.name, cfg=cfg, model=net, stage=stage, **stage.objective.kwargs)


def test_unknown_model_fails_fast(tmp_path, capsys):
    assert main(["challenge", "--out", str(tmp_path), "--models", "nope", "--budget", "tiny"]) == 2
    assert "unknown model" in capsys.readouterr().err
