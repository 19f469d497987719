"""Export sources (isplab.export.sources): the model to export and the raw frames for the proof."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.camera.profile import ISPLAB_DOMAIN
from isplab.errors import IsplabError
from isplab.export.sources import load_export_model, read_raw_frames
from isplab.models import create_model
from isplab.models.weights import model_checkpoint, save_checkpoint


def test_checkpoint_or_fresh_model(tmp_path):
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / "m.pt", model_checkpoint("smallnet", {}, create_model("smallnet")))
    model, name, domain = load_export_model(ckpt, None)
    assert name == "smallnet" and not model.training and domain == ISPLAB_DOMAIN  # its training domain
    assert load_export_model(None, "mialgo_3conv")[1:] == ("mialgo_3conv", None)  # a fresh model has none
    with pytest.raises(IsplabError, match="not 'microisp'"):
        load_export_model(ckpt, "microisp")
    with pytest.raises(IsplabError, match="nothing to export"):
        load_export_model(None, None)


def test_raw_frames_take_the_options_of_their_kind(tmp_path):
    mosaic = np.random.default_rng(0).integers(0, 1021, (8, 12)).astype("<u2")
    mosaic.tofile(tmp_path / "a.raw")
    from PIL import Image

    Image.fromarray(mosaic).save(tmp_path / "b.png")
    frames = read_raw_frames([tmp_path / "a.raw", tmp_path / "b.png"],
                             {"width": 12, "height": 8, "white": 1020, "cfa": "GRBG"})
    assert [name for name, _ in frames] == ["a.raw", "b.png"]
    assert all(image.shape == (8, 12) and image.cfa.value == "GRBG" for _, image in frames)
