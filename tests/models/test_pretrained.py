"""Pretrained weights shipped in isplab/weights/: present, loadable, with provenance and honest scores."""

from __future__ import annotations

import importlib.resources
from dataclasses import replace

import pytest
import torch

import isplab
from isplab.challenge.run import BUDGETS, FINE_TUNE_LR, challenge_config, init_label
from isplab.errors import IsplabError
from isplab.evaluate import evaluate_checkpoint
from isplab.models import list_models
from isplab.models.cards import weight_card
from isplab.models.weights import init_from, load_model_from_checkpoint
from isplab.train.recipes import model_recipe

#: the issue's list: every registered model under ~1 MB of fp32 weights that the challenge names
REQUIRED = ("mialgo_3conv", "smallnet", "microisp", "microisp_0.5", "fgarepnet", "enerzai_t1", "rfdcsa",
            "mincho_mobile_smallnet", "jmu_cvlab")
SHIPPED = list_models(pretrained=True)


def test_required_models_ship_within_the_package_budget():
    assert set(REQUIRED) <= set(SHIPPED)
    cards = [weight_card(n) for n in SHIPPED]
    assert all(c.kind == "shipped" and c.default and c.name == f"{c.model}.embedded" for c in cards)
    folder = importlib.resources.files("isplab").joinpath("weights")
    assert sorted(p.name for p in folder.iterdir() if p.is_file()) == sorted([*(c.file for c in cards),
                                                                             "SHA256SUMS"])  # nothing else
    assert sum(c.path().stat().st_size for c in cards) <= 5 * 2**20


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_loads_and_carries_provenance_and_scores(name):
    model = isplab.create_model(name, pretrained=True)
    _, state = load_model_from_checkpoint(f"pretrained:{name}")
    reference = isplab.create_model(name)
    reference.load_state_dict(state["model"])
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values(),
                                                   strict=True))
    prov = state["provenance"]
    assert prov["script"] == "tools/pretrain.py" and len(prov["commit"]) >= 40
    assert prov["steps"] >= 1000 and prov["seed"] == 0 and f"model: {name}" in prov["config"]
    assert "random spectral camera" in prov["data"] and "colour cards" in prov["data"]
    assert state["config"]["data"]["stream"]["camera"] == {"kind": "spectral"} and state["config"]["model"] == name
    for split in ("val", "test"):
        scores = state["scores"][split]
        assert {"psnr", "ssim", "delta_e", "photos"} <= set(scores)
        assert not set(scores["photos"]) & {"motorcycle_right", "retina", "grace_hopper"}
    # a pretrained model is a real ISP: far above a constant image, colours within a few ΔE
    assert state["scores"]["test"]["psnr"] > 22 and state["scores"]["test"]["delta_e"] < 10


@pytest.mark.parametrize("name", [n for n in ("mialgo_3conv", "smallnet") if n in SHIPPED])
def test_stored_test_scores_are_what_the_weights_give(name):
    """``isplab eval`` scores shipped weights on the camera family they were trained with, as the card says."""
    _, state = load_model_from_checkpoint(f"pretrained:{name}")
    scores = evaluate_checkpoint(f"pretrained:{name}", split="test").rows[name]
    for metric in ("psnr", "ssim", "delta_e"):
        assert scores[metric] == pytest.approx(state["scores"]["test"][metric], abs=2e-3)


def test_unknown_and_unshipped_names_are_clear_errors():
    with pytest.raises(IsplabError, match="unknown model|no such model|not registered"):
        isplab.create_model("nope", pretrained=True)
    unshipped = next(n for n in list_models() if n not in SHIPPED)
    with pytest.raises(IsplabError, match=f"no weights '{unshipped}': cards of this model"):
        isplab.create_model(unshipped, pretrained=True)


def test_init_from_loads_weights_and_refuses_another_models():
    model = isplab.create_model("mialgo_3conv")
    init_from(model, "pretrained:mialgo_3conv", "mialgo_3conv")
    shipped = isplab.create_model("mialgo_3conv", pretrained=True)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), shipped.state_dict().values(),
                                                   strict=True))
    with pytest.raises(IsplabError, match="holds microisp weights, not mialgo_3conv"):
        init_from(model, "pretrained:microisp", "mialgo_3conv")


def test_challenge_init_pretrained_fine_tunes_shipped_weights_at_a_tenth_of_the_lr():
    cfg = challenge_config("microisp", BUDGETS["quick"], None, init="pretrained")
    assert cfg.init == "pretrained:microisp" == init_label("microisp", "pretrained")
    assert cfg.optim.lr == pytest.approx(model_recipe("microisp").quick.lr * FINE_TUNE_LR)
    assert challenge_config("microisp", BUDGETS["quick"], None).init is None
    assert init_label("pynetv2_mobile", "pretrained") in ("pretrained:pynetv2_mobile",
                                                          "scratch (no pretrained weights)")


def test_training_from_init_starts_at_the_pretrained_weights(tmp_path):
    from isplab.train.engine import train

    cfg = challenge_config("mialgo_3conv", BUDGETS["tiny"], None, init="pretrained")
    cfg = replace(cfg, optim=replace(cfg.optim, lr=1e-12))
    train(cfg, tmp_path / "run", progress=False)
    tuned, _ = load_model_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    shipped = isplab.create_model("mialgo_3conv", pretrained=True)
    for a, b in zip(tuned.state_dict().values(), shipped.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_shipped_weights_match_their_manifest_and_a_damaged_file_is_refused(tmp_path, monkeypatch, capsys):
    """The manifest lists exactly the shipped files with their digests (it fails after retraining until
    `python tools/pretrain.py --manifest` is run); one flipped bit in a tensor, which safetensors' own header
    checks cannot see, is a one-line error on load, and so in `isplab develop`'s default model choice."""
    import shutil

    import isplab.models.cards as cards
    from isplab.cli import main
    from isplab.integrity import read_manifest, sha256_file
    from isplab.models.weights import best_pretrained, load_checkpoint, pretrained_path

    folder = pretrained_path("smallnet").parent
    manifest = read_manifest(folder)
    assert set(manifest) == {p.name for p in folder.glob("*.safetensors")} == {weight_card(n).file for n in SHIPPED}
    assert all(sha256_file(folder / name) == digest for name, digest in manifest.items())
    copy = tmp_path / "weights"
    shutil.copytree(folder, copy)
    monkeypatch.setattr(cards, "shipped_folder", lambda: copy)
    monkeypatch.setenv("ISPLAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr("isplab.integrity._VERIFIED", set())
    damaged = copy / weight_card("smallnet").file
    assert pretrained_path("smallnet") == damaged
    load_checkpoint(damaged)
    data = bytearray(damaged.read_bytes())
    data[-5] ^= 0x01  # one flipped bit inside the last tensor: safetensors would load it silently
    damaged.write_bytes(bytes(data))
    with pytest.raises(IsplabError, match=r"smallnet\.embedded\.safetensors: contents do not match the recorded "
                                          r"checksum.*reinstall.*tools/pretrain\.py --manifest"):
        load_checkpoint(damaged)
    with pytest.raises(IsplabError, match="contents do not match the recorded checksum"):
        best_pretrained()  # reads every card's scores: verified too
    raw = tmp_path / "x.raw"
    raw.write_bytes(bytes(64 * 64 * 2))
    argv = ["develop", str(raw), "--weights", "pretrained:smallnet", "--width", "64", "--height", "64",
            "--out", str(tmp_path / "o"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "contents do not match the recorded checksum" in err[0], err
    (copy / "SHA256SUMS").unlink()
    with pytest.raises(IsplabError, match=r"is not listed in .*SHA256SUMS"):
        load_checkpoint(damaged)
