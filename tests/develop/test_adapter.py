"""The camera adapter inside ``isplab develop`` / ``compare``: on by default for checkpoints, recorded in the
output's metadata, ``--no-adapt`` off; ``develop`` without ``--weights`` uses the best shipped model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from isplab.camera.adapt import FALLBACK_NEUTRAL
from isplab.camera.profile import ISPLAB_DOMAIN
from isplab.cli import main
from isplab.develop.pipeline import DevelopSettings, check_settings, develop_file, model_input
from isplab.develop.torch_runners import ClassicRunner, TorchRunner
from isplab.errors import IsplabError
from isplab.models import list_models
from isplab.models.weights import best_pretrained, load_checkpoint, pretrained_path
from isplab.raw.readers import read_raw

NEUTRAL = (0.5, 1.0, 0.25, 1.0)  # the model renders grey from B = G/2, R = G/4


@pytest.fixture
def frame(tmp_path, mosaic, write_png16):
    return read_raw(write_png16(tmp_path / "shot.png", mosaic()))


def test_frame_is_white_balanced_into_the_models_neutral(frame, smallnet):
    runner = TorchRunner(smallnet, "smallnet (test)", ISPLAB_DOMAIN.with_neutral(NEUTRAL))
    packed, info = model_input(frame, runner, DevelopSettings(neutral="grey-world"))
    assert info["adapter"] == "on" and info["neutral_method"] == "grey-world"
    means = packed.reshape(4, -1).mean(axis=1)  # grey-world: the frame's mean becomes the model's grey
    np.testing.assert_allclose(means / means[1], NEUTRAL, rtol=0.02)


def test_frames_without_an_as_shot_neutral_fall_back_and_say_so(frame, smallnet):
    runner = TorchRunner(smallnet, "smallnet (test)", ISPLAB_DOMAIN.with_neutral(NEUTRAL))
    _, info = model_input(frame, runner, DevelopSettings())
    assert info["neutral_method"] == FALLBACK_NEUTRAL
    assert any("no as-shot neutral" in note for note in info["notes"])


def test_no_adapt_and_runners_without_a_raw_domain_get_the_frame_as_read(frame, smallnet):
    runner = TorchRunner(smallnet, "smallnet (test)", ISPLAB_DOMAIN.with_neutral(NEUTRAL))
    packed, info = model_input(frame, runner, DevelopSettings(adapt=False))
    assert info == {"adapter": "off (--no-adapt)"} and np.array_equal(packed, frame.packed())
    packed, info = model_input(frame, ClassicRunner(), DevelopSettings())
    assert info["adapter"].startswith("not applied") and np.array_equal(packed, frame.packed())


def test_every_choice_is_written_into_the_output(tmp_path, frame, smallnet, mosaic, write_png16):
    src = write_png16(tmp_path / "in.png", mosaic())
    runner = TorchRunner(smallnet, "smallnet (test)", ISPLAB_DOMAIN.with_neutral(NEUTRAL))
    out = develop_file(src, runner, tmp_path / "out", DevelopSettings(neutral="white-patch", exposure=0.8))
    with Image.open(out) as im:
        info = json.loads(im.text["isplab.adapter"])
    assert info["neutral_method"] == "white-patch" and info["exposure"] == 0.8
    assert info["target"]["neutral"] == list(NEUTRAL) and len(info["gains"]) == 4


@pytest.mark.parametrize("settings, match", [(DevelopSettings(neutral="daylight"), "--neutral daylight"),
                                             (DevelopSettings(exposure=0.0), "--exposure 0")])
def test_bad_adapter_options(settings, match):
    with pytest.raises(IsplabError, match=match):
        check_settings(settings)


def test_best_pretrained_is_the_highest_stored_test_psnr():
    scores = {n: load_checkpoint(pretrained_path(n))["scores"]["test"]["psnr"] for n in list_models(pretrained=True)}
    assert best_pretrained() == max(scores, key=scores.get)


def test_develop_without_weights_uses_the_best_pretrained_model(tmp_path, mosaic, write_png16, capsys):
    src = write_png16(tmp_path / "shot.png", mosaic())
    assert main(["develop", str(src), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    name = best_pretrained()
    assert f"pretrained:{name}" in capsys.readouterr().out
    with Image.open(tmp_path / "out" / "shot.png") as im:
        assert f"pretrained:{name}" in im.text["isplab.model"]
        assert json.loads(im.text["isplab.adapter"])["adapter"] == "on"


def test_an_exported_tflite_carries_the_domain_and_develops_as_its_checkpoint(tmp_path, smallnet, mosaic,
                                                                             write_png16):
    """`isplab export` stores the checkpoint's raw domain in the file: developing with the .tflite adapts the
    frame exactly as the checkpoint does (before, a .tflite got the frame as read: a colour cast)."""
    from isplab.develop.runners import load_runner
    from isplab.models.weights import model_checkpoint, save_checkpoint

    domain = ISPLAB_DOMAIN.with_neutral(NEUTRAL)
    ckpt = save_checkpoint(tmp_path / "m.pt", model_checkpoint("smallnet", {}, smallnet, domain))
    src = write_png16(tmp_path / "shot.png", mosaic())
    assert main(["export", "--weights", str(ckpt), "--out", str(tmp_path / "m.tflite"), "--input-size",
                 "32x40"]) == 0
    assert load_runner(tmp_path / "m.tflite").domain == domain
    pictures = {}
    for name, weights in (("tflite", tmp_path / "m.tflite"), ("checkpoint", ckpt)):
        assert main(["develop", str(src), "--weights", str(weights), "--out", str(tmp_path / name), "--quiet"]) == 0
        with Image.open(tmp_path / name / "shot.png") as im:
            assert json.loads(im.text["isplab.adapter"])["target"]["neutral"] == list(NEUTRAL)
            pictures[name] = np.asarray(im).astype(int)
    assert np.abs(pictures["tflite"] - pictures["checkpoint"]).max() <= 1

    assert main(["export", "--model", "smallnet", "--out", str(tmp_path / "fresh.tflite"), "--input-size",
                 "32x40"]) == 0  # a fresh model has no training domain: frames go in as read, and it says so
    assert load_runner(tmp_path / "fresh.tflite").domain is None
    _, info = model_input(read_raw(src), load_runner(tmp_path / "fresh.tflite"), DevelopSettings())
    assert info["adapter"].startswith("not applied")


def test_neutral_values_on_the_command_line(tmp_path, mosaic, write_png16, capsys):
    """`--neutral B,G,R,G`: the option the estimators' "pass the neutral explicitly" names; a saturated frame
    (no unsaturated pixel to estimate from) develops with it."""
    saturated = write_png16(tmp_path / "white.png", np.full((32, 32), 1020))
    argv = ["develop", str(saturated), "--weights", "pretrained:smallnet", "--out", str(tmp_path / "o"), "--quiet"]
    assert main([*argv, "--neutral", "white-patch"]) == 1
    err = capsys.readouterr().err
    assert "white-patch estimate of its neutral; pass the neutral explicitly: --neutral B,G,R,G" in err
    assert "Traceback" not in err and "Warning" not in err and len(err.strip().splitlines()) == 1
    assert main([*argv, "--neutral", "0.5,1,0.6,1"]) == 0
    info = json.loads(Image.open(tmp_path / "o" / "white.png").text["isplab.adapter"])
    assert info["neutral_method"] == "given" and info["source_neutral"] == [0.5, 1.0, 0.6, 1.0]
    with pytest.raises(SystemExit):
        main([*argv, "--neutral", "0.5,1,0"])
    assert "4 values B,G,R,G" in capsys.readouterr().err
    with pytest.raises(IsplabError, match="needs 4 positive finite values"):
        check_settings(DevelopSettings(neutral=(0.5, -1.0, 0.6, 1.0)))
