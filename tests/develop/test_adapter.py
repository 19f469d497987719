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


# ---- colour spaces, profiles and automatic exposure ------------------------------------------------------

CM = np.array([[0.95, -0.2, -0.12], [-0.42, 1.25, 0.12], [-0.06, 0.22, 0.62]])  # XYZ -> camera, D65 light


def test_a_dng_lands_in_the_model_s_colour_space(tmp_path, write_dng):
    """End to end from a DNG file: a tile-constant scene seen by camera CM, adapted into white-balanced linear
    sRGB, is that scene's linear sRGB (the file's matrix and as-shot neutral through XYZ)."""
    from isplab.camera.adapt import adapt_frame
    from isplab.camera.profile import LINEAR_SRGB_DOMAIN
    from isplab.colorimetry import D65_XY, SRGB_TO_XYZ, XYZ_TO_SRGB, xy_to_xyz
    from isplab.raw.bayer import CFA

    d65 = xy_to_xyz(D65_XY)
    cm = CM / (CM @ d65).max()
    xyz = np.einsum("oc,chw->ohw", SRGB_TO_XYZ, np.random.default_rng(0).uniform(0.1, 0.6, (3, 16, 16)))
    camera = np.einsum("oc,chw->ohw", cm, xyz).repeat(2, 1).repeat(2, 2)  # (3, 32, 32), constant per 2x2 tile
    mosaic = camera[1].copy()
    mosaic[0::2, 0::2], mosaic[1::2, 1::2] = camera[0, 0::2, 0::2], camera[2, 1::2, 1::2]
    white, black = 4095, 256
    neutral = cm @ d65
    path = write_dng(tmp_path / "a.dng", np.round(black + mosaic * (white - black)), CFA.RGGB, black=(black,) * 4,
                     white=white, xyz_to_cam=cm, as_shot_neutral=tuple(neutral / neutral[1]))
    x, record = adapt_frame(read_raw(path), LINEAR_SRGB_DOMAIN, exposure=1.0)
    expected = np.einsum("oc,chw->ohw", XYZ_TO_SRGB, xyz) * neutral[1]  # green-preserving: the frame's exposure
    np.testing.assert_allclose(x[2], expected[0], atol=2e-3)  # R
    np.testing.assert_allclose(x[1], expected[1], atol=2e-3)  # G_r
    np.testing.assert_allclose(x[0], expected[2], atol=2e-3)  # B
    assert record.colour_method == "mixed" and record.notes == ()


def test_camera_profile_gives_mosaics_a_colour_space(tmp_path, smallnet, mosaic, write_png16):
    import yaml

    src = write_png16(tmp_path / "in.png", mosaic())
    profile = tmp_path / "camera.yml"
    profile.write_text(yaml.safe_dump({"black": 0, "white": 1020, "neutral": [0.6, 1, 0.45, 1],
                                       "colour_matrix": CM.tolist()}))
    runner = TorchRunner(smallnet, "smallnet (test)", ISPLAB_DOMAIN)
    out = tmp_path / "out"
    assert main(["develop", str(src), "--weights", "classic", "--out", str(out), "--quiet"]) == 0  # CLI wiring
    from isplab.camera.profile import load_profile

    plain = develop_file(src, runner, out, DevelopSettings())
    with Image.open(plain) as im:
        without = json.loads(im.text["isplab.adapter"])
    described = develop_file(src, runner, tmp_path / "out2", DevelopSettings(camera=load_profile(profile)))
    with Image.open(described) as im:
        with_profile = json.loads(im.text["isplab.adapter"])
    assert without["matrix"] is None and any("colour space unknown for the frame" in n for n in without["notes"])
    assert with_profile["matrix"] is not None and with_profile["source"]["colour_matrix"] == CM.tolist()
    with pytest.raises(IsplabError, match="camera profile not found"):
        load_profile(tmp_path / "missing.yml")


def test_auto_exposure_brings_any_exposure_to_the_model_s_level(tmp_path, smallnet, write_png16):
    rng = np.random.default_rng(3)
    scene = rng.uniform(0.05, 1.0, (64, 80))
    runner = TorchRunner(smallnet, "smallnet (test)", ISPLAB_DOMAIN)
    inputs = []
    for name, level in (("dim", 0.45), ("bright", 0.9)):
        frame = read_raw(write_png16(tmp_path / f"{name}.png", np.round(scene * level * 1020)))
        packed, info = model_input(frame, runner, DevelopSettings(neutral="grey-world"))
        inputs.append(packed)
        assert info["exposure"] == pytest.approx(ISPLAB_DOMAIN.auto_exposure / np.percentile(
            packed.max(axis=0)[::4, ::4] / info["exposure"], 99), rel=1e-3)
    np.testing.assert_allclose(inputs[0], inputs[1], atol=5e-3)  # the same picture, whatever the exposure
    fixed = model_input(frame, runner, DevelopSettings(neutral="grey-world", exposure=1.0))[0]
    assert not np.allclose(fixed, inputs[1], atol=5e-3)
