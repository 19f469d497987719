"""Checks on developed pictures (isplab.develop.checks): a broken model's output is refused, never written."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.cli import main
from isplab.develop.checks import OutputCheck, check_picture
from isplab.errors import IsplabError
from isplab.models import create_model
from isplab.models.weights import model_checkpoint, save_checkpoint


def _checkpoint(path, scale: float | None = None, zero: bool = False):
    """smallnet whose weights are all finite but multiplied by ``scale`` (outputs overflow float32) or zero."""
    torch.manual_seed(0)
    net = create_model("smallnet")
    with torch.no_grad():
        for p in net.parameters():
            p.zero_() if zero else p.mul_(scale)
    return save_checkpoint(path, model_checkpoint("smallnet", {}, net))


def test_output_check_rules():
    frame = np.random.default_rng(0).random((4, 8, 8), dtype=np.float32)
    check_picture(frame[:3] * 4 - 1, "f.png", "m", frame)  # overshoot is clipped when encoded (untrained models)
    for bad, problem in ((np.full((3, 4, 4), np.nan), "NaN/inf"), (np.full((3, 4, 4), np.inf), "NaN/inf"),
                         (np.array([0.5, 1e6]), "beyond the picture range"),
                         (np.full((3, 4, 4), 0.25), "one flat value")):
        with pytest.raises(IsplabError, match=rf"f\.png: m produced .*{problem}.*nothing was written"):
            check_picture(bad, "f.png", "m", frame)
    check_picture(np.full((3, 4, 4), 0.25), "flat.png", "m", np.full((4, 4, 4), 0.5))  # a flat frame may be flat
    check = OutputCheck("f.png", "m", frame)
    check.band(np.zeros((2, 4, 3)))
    check.band(np.ones((2, 4, 3)))
    check.finish()


@pytest.mark.parametrize(("make", "problem"), [(lambda p: _checkpoint(p, scale=1e25), "NaN/inf values"),
                                               (lambda p: _checkpoint(p, zero=True), "one flat value")])
def test_a_broken_model_writes_no_picture(tmp_path, capsys, mosaic, write_png16, make, problem):
    raw = write_png16(tmp_path / "shot.png", mosaic())
    weights = make(tmp_path / "broken.pt")
    assert main(["develop", str(raw), "--weights", str(weights), "--out", str(tmp_path / "out"), "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "shot.png: smallnet (broken.pt, PyTorch) produced" in err, err
    assert problem in err and not list((tmp_path / "out").iterdir())
    assert main(["compare", str(raw), "--weights", str(weights), "--out", str(tmp_path / "c.html")]) == 2
    assert problem in capsys.readouterr().err and not (tmp_path / "c.html").exists()


def test_eval_refuses_an_overflowing_model_naming_the_file(tmp_path, capsys):
    weights = _checkpoint(tmp_path / "overflow.pt", scale=1e25)
    assert main(["eval", "--weights", str(weights)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"isplab eval: error: {weights}: the model's output is not finite") and len(
        err.splitlines()) == 1, err


def test_a_bit_flipped_tflite_writes_no_picture(tmp_path, capsys, smallnet_tflite, mosaic, write_png16):
    """A .tflite whose largest weight buffer got its exponent bits flipped overflows; clipping would hide it."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(smallnet_tflite.read_bytes()))
    buffer = max(model.buffers, key=lambda b: 0 if b.data is None else len(b.data))
    weights = np.frombuffer(bytes(buffer.data), dtype=np.float32).copy()
    weights.view(np.uint32)[:] |= np.uint32(0x7E000000)  # every weight's exponent near the float32 maximum
    buffer.data = np.frombuffer(weights.tobytes(), dtype=np.uint8)
    flipped = tmp_path / "flipped.tflite"
    flipped.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    raw = write_png16(tmp_path / "shot.png", mosaic(64, 64))
    argv = ["develop", str(raw), "--out", str(tmp_path / "out"), "--quiet", "--weights"]
    assert main([*argv, str(smallnet_tflite)]) == 0  # the intact file develops
    assert main([*argv, str(flipped)]) == 1
    err = capsys.readouterr().err
    assert "flipped.tflite (TFLite) produced" in err and [p.name for p in (tmp_path / "out").iterdir()] == [
        "shot.png"], err
    assert "nothing was written" in err
