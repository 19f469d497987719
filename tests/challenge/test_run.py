"""End-to-end ``isplab challenge`` with the tiny budget: train, eval, export, bench, score, leaderboard."""

import json

import pytest

from isplab.challenge.run import BUDGETS, DEFAULT_MODELS, QUICK_PLANS, challenge_config
from isplab.cli import main
from isplab.runtime.tflite_metadata import RAW_DOMAIN, read_metadata


@pytest.fixture(scope="module")
def challenge_out(tmp_path_factory, toolchains_if_set_up):
    root = tmp_path_factory.mktemp("challenge")
    out = root / "out"
    args = ["challenge", "--out", str(out), "--budget", "tiny", "--models", "mialgo_3conv,microisp", "--no-progress"]
    assert main(args) == 0
    return out, args


def test_writes_leaderboard_and_results(challenge_out):
    out, _ = challenge_out
    results = {r["model"]: r for r in json.loads((out / "results.json").read_text())}
    assert set(results) == {"mialgo_3conv", "microisp", "classic_isp"}
    for name in ("mialgo_3conv", "microisp"):
        r = results[name]
        assert r["gpu_audit"] == "pass" and r["cpu_runtime_ms"] > 0 and r["size_mb"] > 0
        assert r["extra"]["parity_max_abs"] <= 1e-4 and r["delta_e"] > 0
        # the exported file carries its checkpoint's raw domain: `isplab develop` adapts camera frames with it
        assert RAW_DOMAIN in read_metadata(out / "models" / name / "model.tflite")
        assert len(r["crops"]) == 4
    for r in results.values():  # scored on the val photo, test photo beside it: neither trained on
        assert r["extra"]["split"] == "val" and "chelsea" in r["extra"]["scored_on"]
        assert "motorcycle_left" in r["extra"]["test_on"] and r["extra"]["test_psnr"] > 0
    assert "Menon" in results["classic_isp"]["notes"] and "camera CCM" in results["classic_isp"]["notes"]
    md = (out / "leaderboard.md").read_text()
    assert "| microisp |" in md and "MicroISP 1.0" in md and "Scored on embedded val photo" in md
    assert "Test PSNR / SSIM" in md
    html = (out / "leaderboard.html").read_text()
    assert "data:image/png;base64," in html


def test_accelerator_columns_when_toolchains_are_set_up(challenge_out, toolchains_if_set_up):
    out, _ = challenge_out
    results = {r["model"]: r for r in json.loads((out / "results.json").read_text())}
    md = (out / "leaderboard.md").read_text()
    if toolchains_if_set_up is None:  # never under CI=true: there the fixture sets them up
        assert "HTP parity" not in md and "accel" not in results["microisp"]["extra"]
        return
    for name in ("mialgo_3conv", "microisp"):
        cells = results[name]["extra"]["accel"]
        assert cells["HTP compiled"].endswith("1 partition") and "FAIL" not in cells["HTP parity"]
        assert cells["GPU"] == "fully accelerated" and cells["GPU parity"].startswith("fp16")
        assert "HTP SM8450: fully compiled" in (out / "models" / name / "accel.txt").read_text()
    assert "HTP SM8450 compiled" in md and "GPU runtime" in md


def test_rerun_skips_finished_models(challenge_out, capsys):
    out, args = challenge_out
    before = (out / "models/microisp/result.json").stat().st_mtime_ns
    assert main(args) == 0
    assert "finished earlier" in capsys.readouterr().out
    assert (out / "models/microisp/result.json").stat().st_mtime_ns == before


def test_quick_budget_plans():
    cfg = challenge_config("microisp", BUDGETS["quick"], None)
    plan = QUICK_PLANS["microisp"]
    assert cfg.total_steps == plan.steps and len(cfg.stages) == 1
    assert cfg.optim.lr == plan.lr and cfg.optim.eps == plan.eps and cfg.schedule.name == "cosine"
    assert [t.name for t in cfg.stages[0].losses] == ["l1", "ssim"]
    assert cfg.data.patch == 160 and cfg.data.path is None  # the embedded stream
    pynet = challenge_config("pynetv2_mobile", BUDGETS["quick"], "/data")
    assert pynet.stages[0].objective.name == "supervised" and pynet.data.path == "/data"
    full = challenge_config("pynetv2_mobile", BUDGETS["full"], None)
    assert [s.objective.name for s in full.stages] == ["multilevel"] * 3  # the recipe's own schedule


def test_patch_is_fitted_to_the_model():
    assert challenge_config("microisp", BUDGETS["tiny"], None).data.patch == 158  # attention needs >= 79 packed
    assert challenge_config("casia_student", BUDGETS["tiny"], None).data.patch % 32 == 0


@pytest.mark.parametrize("model", DEFAULT_MODELS)
def test_default_recipes_need_no_external_files(model):
    """The main job must run on a fresh machine: no perceptual weights or teacher checkpoints."""
    from isplab import create_model
    from isplab.train.objectives import create_objective

    for budget in ("quick", "full"):
        cfg = challenge_config(model, BUDGETS[budget], None)
        net = create_model(model)
        for stage in cfg.stages:
            create_objective(stage.objective.name, cfg=cfg, model=net, stage=stage, **stage.objective.kwargs)


def test_cli_defaults_match_the_library():
    """The CLI spells its defaults out (building the parser must not import torch): they must not drift."""
    import argparse

    from isplab.cli import challenge as cli

    sub = argparse.ArgumentParser().add_subparsers()
    cli.add_parser(sub)
    parser = sub.choices["challenge"]
    defaults = {a.dest: a for a in parser._actions}
    assert defaults["models"].default.split(",") == list(DEFAULT_MODELS)
    assert defaults["budget"].choices == list(BUDGETS)


def test_unknown_model_fails_fast(tmp_path, capsys):
    assert main(["challenge", "--out", str(tmp_path), "--models", "nope", "--budget", "tiny"]) == 2
    assert "unknown model" in capsys.readouterr().err
