"""Every shipped recipe runs end to end: ``isplab train --config <recipe> --steps N --batch-size 2``.

Test-only overrides (written to a temporary YAML, then passed to the CLI): the synthetic data folder,
``pretrained: false`` perceptual backbones (no ImageNet weights here), teacher checkpoints produced by
running the teacher recipe first, a synthetic target camera for DANN, and a smaller CASIA width/crop
(its self-attention is quadratic in pixels and the model is 52M parameters), and small train/val crops.
"""

from __future__ import annotations

import json

import pytest

from isplab.cli import main
from isplab.config import dump_yaml, to_dict
from isplab.data import synthesize_dataset
from isplab.errors import IsplabError
from isplab.models.weights import load_checkpoint
from isplab.train.recipes import list_recipes, load_train_config

TEACHERS = {"mialgo_t1": "mialgo_t2", "casia": "casia_teacher"}
SMALL = {"casia_teacher": {"base": 8}, "casia": {"base": 8}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("recipes") / "synth", n=8, seed=0)


@pytest.fixture(scope="module")
def target_camera(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("recipes") / "target", n=4, seed=1)


@pytest.fixture(scope="module")
def runs(data):
    """Finished runs by recipe name, shared so a teacher recipe trains once for its students."""
    return {"_data": data}


def test_every_team_has_a_recipe():
    teams = {"mialgo_t1", "mialgo_t2", "multimedia", "enerzai", "hitzst01", "mincho", "casia_teacher", "casia",
             "jmu", "dann", "rainbow", "skd_vsp", "channel_team", "pynetv2_mobile"}
    assert teams <= set(list_recipes())


def test_model_recipes_come_from_the_registry() -> None:
    fgarepnet = load_train_config(None, "fgarepnet")
    assert fgarepnet == load_train_config("multimedia")  # the team recipe, not TrainConfig() defaults
    t2 = load_train_config(None, "enerzai_t2")  # a sibling of the recipe's model: same recipe, this model
    assert t2.model == "enerzai_t2" and t2.stages == load_train_config("enerzai").stages
    assert load_train_config(None).model == "microisp" and load_train_config(None) == load_train_config("microisp")


def test_model_without_its_recipe_names_the_recipes(monkeypatch) -> None:
    from dataclasses import replace

    from isplab.models import model_entry
    from isplab.train import recipes

    monkeypatch.setattr(recipes, "model_entry", lambda name: replace(model_entry("smallnet"), recipe="gone"))
    with pytest.raises(IsplabError, match="model 'smallnet' names recipe 'gone'.*Recipes: .*multimedia"):
        load_train_config(None, "smallnet")


def test_models_cli_shows_each_recipe(capsys) -> None:
    assert main(["models", "fgarepnet"]) == 0
    assert "multimedia" in capsys.readouterr().out


def _override(name: str, tmp_path, target_camera, runs) -> dict:
    cfg = to_dict(load_train_config(name))
    for stage in cfg["stages"]:
        for term in stage["losses"]:
            if term["name"].startswith("perceptual_"):
                term["kwargs"] = {k: v for k, v in term["kwargs"].items() if k != "weights"} | {"pretrained": False}
        kwargs = stage["objective"]["kwargs"]
        if "teacher" in kwargs:
            kwargs["teacher"] = str(run_recipe(TEACHERS[name], tmp_path, target_camera, runs) / "checkpoints/last.pt")
        if "target_data" in kwargs:
            kwargs["target_data"] = str(target_camera)
    cfg["model_kwargs"] = SMALL.get(name, cfg["model_kwargs"])
    # Small centred crops keep 2 steps cheap; MS-SSIM (5 scales) and MicroISP need > 160 pixels.
    needs_big = cfg["model"].startswith("microisp") or any(
        t["name"] == "ms_ssim" for s in cfg["stages"] for t in s["losses"])
    cfg["data"]["patch"] = cfg["data"]["val_crop"] = 176 if needs_big else 64
    return cfg


def run_recipe(name: str, tmp_path, target_camera, runs: dict, data=None):
    if name in runs:
        return runs[name]
    cfg = _override(name, tmp_path, target_camera, runs)
    path = tmp_path / f"{name}.yml"
    path.write_text(dump_yaml(cfg))
    out = tmp_path / f"run_{name}"
    steps = max(2, len(cfg["stages"]))
    argv = ["train", "--config", str(path), "--data", str(runs["_data"]), "--steps", str(steps),
            "--batch-size", "2", "--out", str(out), "--no-progress"]
    assert main(argv) == 0, name
    runs[name] = out
    return out


@pytest.mark.parametrize("name", list_recipes())
def test_recipe_runs_end_to_end(name, runs, target_camera, tmp_path):
    out = run_recipe(name, tmp_path, target_camera, runs)
    state = load_checkpoint(out / "checkpoints/last.pt")
    assert state["step"] == max(2, len(load_train_config(name).stages))
    assert state["model_name"] == load_train_config(name).model
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["psnr"] == pytest.approx(record["psnr"])  # finite: not NaN
    assert 0 < record["psnr"] < 100
