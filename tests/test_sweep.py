"""``isplab sweep``: one leaderboard of several runs, failures reported, resume, and the same results on Ray."""

import json
import shutil

import pytest

import isplab.sweep as sweep
from isplab.cli import main
from isplab.errors import IsplabError
from isplab.sweep import plan_runs
from isplab.train.recipes import model_recipe

GOOD = """model: mialgo_3conv
data: {batch_size: 2, patch: 32, augment: false, stream: {eval_cameras: 1}}
optim: {lr: 1.0e-3}
stages: [{steps: 4, losses: [{name: l1}]}]
ckpt_every: 2
log_every: 1
"""


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("configs")
    (folder / "good.yml").write_text(GOOD)
    (folder / "bad.yml").write_text(GOOD.replace("data: {", "data: {path: /nonexistent/isplab-data, "))
    return [str(folder / "good.yml"), str(folder / "bad.yml")]


@pytest.fixture(scope="module")
def swept(configs, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "out"
    code = main(["sweep", *configs, "--out", str(out), "--input-size", "32,32", "--bench-runs", "1",
                 "--no-progress"])
    return out, code


def test_leaderboard_ranks_the_good_run_and_reports_the_failure(swept) -> None:
    out, code = swept
    assert code == 1  # a run failed
    results = {r["model"]: r for r in json.loads((out / "results.json").read_text())}
    assert set(results) == {"good", "classic_isp"}
    good = results["good"]
    assert 0 < good["psnr"] < 60 and good["cpu_runtime_ms"] > 0 and good["final_score"] > 0
    assert good["input_size"] == [32, 32] and good["extra"]["train_steps"] == 4 and good["extra"]["split"] == "val"
    assert (out / "runs" / "good" / "model.tflite").is_file() and not (out / "runs" / "good" / "error.txt").exists()
    error = (out / "runs" / "bad" / "error.txt").read_text()
    assert "/nonexistent/isplab-data" in error and not (out / "runs" / "bad" / "result.json").exists()
    md = (out / "leaderboard.md").read_text()
    assert "| good |" in md and "| classic_isp |" in md and "## Failed runs" in md
    assert "- bad: `{}`".format(error.strip().replace("`", "'")) in md  # a code span the error cannot close
    assert "Failed runs" in (out / "leaderboard.html").read_text()


def test_rerun_skips_finished_runs_and_retries_failed_ones(swept, configs, tmp_path, monkeypatch, capsys) -> None:
    out = shutil.copytree(swept[0], tmp_path / "out")
    calls = []
    real = sweep.run_one

    def counting(**kwargs):
        calls.append(kwargs["name"])
        return real(**kwargs)

    monkeypatch.setattr(sweep, "run_one", counting)
    assert main(["sweep", *configs, "--out", str(out), "--input-size", "32,32", "--no-progress"]) == 1
    printed = capsys.readouterr()
    assert calls == ["bad"] and "good: finished earlier" in printed.out
    assert "isplab sweep: 1 of 2 runs failed: bad: DataError" in printed.err

    # Without its result a finished run is scored again from its checkpoint, not retrained.
    before = json.loads((out / "runs" / "good" / "result.json").read_text())
    last = out / "runs" / "good" / "run" / "checkpoints" / "last.pt"
    stamp = last.stat().st_mtime_ns
    (out / "runs" / "good" / "result.json").unlink()
    calls.clear()
    assert main(["sweep", configs[0], "--out", str(out), "--no-bench", "--no-progress"]) == 0
    after = json.loads((out / "runs" / "good" / "result.json").read_text())
    assert calls == ["good"] and last.stat().st_mtime_ns == stamp and after["psnr"] == before["psnr"]
    assert after["cpu_runtime_ms"] is None  # --no-bench


def test_interrupted_run_resumes_to_the_same_result(swept, configs, tmp_path) -> None:
    from dataclasses import replace

    from isplab.train.engine import train
    from isplab.train.recipes import load_train_config

    cfg = replace(load_train_config(configs[0]), threads=1)  # as the sweep runs it (--threads 1)
    train(cfg, tmp_path / "out" / "runs" / "good" / "run", stop_after=2, progress=False)  # killed at step 2
    assert main(["sweep", configs[0], "--out", str(tmp_path / "out"), "--no-bench", "--no-progress"]) == 0
    resumed = json.loads((tmp_path / "out" / "runs" / "good" / "result.json").read_text())
    full = json.loads((swept[0] / "runs" / "good" / "result.json").read_text())
    assert resumed["psnr"] == pytest.approx(full["psnr"], abs=1e-9) and resumed["extra"]["checkpoint_step"] == 4


def test_ray_sweep_gives_the_local_results(swept, configs, tmp_path, ray_runtime, monkeypatch) -> None:
    driver, real = [], sweep.run_one

    def here(**kwargs):  # a Ray task runs a pickled copy of this in a worker: the driver's list stays empty
        driver.append(kwargs["name"])
        return real(**kwargs)

    monkeypatch.setattr(sweep, "run_one", here)
    assert main(["sweep", *configs, "--out", str(tmp_path / "ray"), "--ray", "local", "--no-bench"]) == 1
    assert driver == []  # every run was a Ray task, none ran in this process
    local, ray = (json.loads((d / "results.json").read_text()) for d in (swept[0], tmp_path / "ray"))
    assert [r["model"] for r in ray] == [r["model"] for r in local]
    for r, c in zip(ray, local, strict=True):
        assert r["psnr"] == pytest.approx(c["psnr"], abs=1e-6) and r["ssim"] == pytest.approx(c["ssim"], abs=1e-7)
    assert (tmp_path / "ray" / "runs" / "bad" / "error.txt").read_text() == \
        (swept[0] / "runs" / "bad" / "error.txt").read_text()
    assert (tmp_path / "ray" / "runs" / "good" / "run" / "checkpoints" / "last.pt").is_file()  # written by the task


def test_models_use_the_challenge_plans_rescaled_to_steps() -> None:
    runs = {r.name: r.config for r in plan_runs(models=["mialgo_3conv", "smallnet"], steps=200)}
    assert list(runs) == ["mialgo_3conv", "smallnet"]
    mialgo = runs["mialgo_3conv"]
    assert mialgo.total_steps == 200 and mialgo.optim.lr == model_recipe("mialgo_3conv").quick.lr
    assert mialgo.data.batch_size == model_recipe("mialgo_3conv").quick.batch_size and mialgo.ckpt_every == 50
    assert runs["smallnet"].total_steps == 200 and runs["smallnet"].model == "smallnet"
    recipe = plan_runs(["smallnet"], steps=10)[0].config  # a recipe name: its own schedule, rescaled
    assert recipe.total_steps == 10 and recipe.optim.lr == 1e-4 and recipe.ckpt_every == 2


def test_bad_plans_fail_before_any_training() -> None:
    with pytest.raises(IsplabError, match="nothing to sweep"):
        plan_runs()
    with pytest.raises(IsplabError, match="smallnet repeats"):
        plan_runs(["smallnet"], ["smallnet"])
    with pytest.raises(IsplabError, match="no_such_model"):
        plan_runs(models=["no_such_model"])
    with pytest.raises(IsplabError, match="no such config"):
        plan_runs(["no_such_recipe"])
