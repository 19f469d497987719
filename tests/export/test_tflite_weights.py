"""Official TFLite weights -> isplab models, checked against the TFLite interpreter on real raw data."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.errors import IsplabError
from isplab.export.tflite_weights import import_tflite_weights, load_tflite_model, tflite_mappers
from isplab.raw.bayer import MAI_WHITE_LEVEL, normalize, pack
from isplab.runtime.litert import LiteRTModel

MICROISP = ("peers", "microisp-official", "MicroISP.tflite")
JMU = ("peers", "jmu-cvlab-mai22", "model.tflite")
RAW = ("data", "real-raw", "fast-openisp-test-1920x1080-rggb-10bit.raw")


def _raw_crop(path, size: int = 256) -> np.ndarray:
    """A ``size`` x ``size`` RGGB crop of the 10-bit frame, packed and scaled: ``(1, 4, size/2, size/2)``."""
    mosaic = np.fromfile(path, dtype="<u2").reshape(1080, 1920)
    crop = mosaic[400 : 400 + size, 800 : 800 + size]  # even offsets keep the RGGB phase
    return normalize(pack(crop), 0, MAI_WHITE_LEVEL, clip=False)[None]


def _run_tflite(path, x: np.ndarray) -> np.ndarray:
    """Run ``path`` resized to NCHW input ``x``; returns NCHW."""
    return LiteRTModel(path, num_threads=1)(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def test_mappers_registered():
    assert "microisp" in tflite_mappers()
    with pytest.raises(IsplabError, match="no TFLite weight mapper"):
        import_tflite_weights("smallnet", "x.tflite")


def test_microisp_matches_official_tflite(shared_file):
    tflite, raw = shared_file(*MICROISP), shared_file(*RAW)
    x = _raw_crop(raw)
    model = load_tflite_model("microisp", tflite)
    with torch.no_grad():
        ours = model(torch.from_numpy(x)).numpy()
    ref = _run_tflite(tflite, x)
    assert ours.shape == ref.shape == (1, 3, 256, 256)
    assert np.abs(ours - ref).max() <= 1e-4
    assert ref.std() > 0.05  # a real image, not a constant the check would pass trivially


def test_jmu_matches_submitted_tflite(shared_file):
    tflite, raw = shared_file(*JMU), shared_file(*RAW)
    x = _raw_crop(raw)
    # The submitted graph takes raw values (it scales by 1/4096 and restacks channels itself).
    model = load_tflite_model("jmu_cvlab", tflite, input_scale=MAI_WHITE_LEVEL)
    with torch.no_grad():
        ours = model(torch.from_numpy(x)).numpy()
    ref = _run_tflite(tflite, x * MAI_WHITE_LEVEL)
    assert ours.shape == ref.shape == (1, 3, 256, 256)
    assert np.abs(ours - ref).max() <= 1e-4
    assert ref.std() > 0.05


def test_microisp_state_dict_is_complete(shared_file):
    state = import_tflite_weights("microisp", shared_file(*MICROISP))
    assert sum(v.numel() for v in state.values()) == 13_560
    # The first conv of the red branch: TFLite OHWI -> torch OIHW.
    assert state["stages.0.0.convs.0.weight"].shape == (4, 4, 3, 3)


def test_wrong_architecture_fails_loudly(shared_file):
    with pytest.raises(IsplabError, match="convolutions"):
        import_tflite_weights("microisp_0.5", shared_file(*MICROISP))


def test_missing_shared_data_skips_locally_fails_in_ci(shared_file, monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        shared_file("no-such-file")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        shared_file("no-such-file")
