"""The camera adapter (isplab.camera.adapt) on synthetic cameras: a raw made with camera A, adapted into
camera B's raw domain, equals B's raw of the same scene."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from isplab.camera.adapt import (
    FALLBACK_NEUTRAL,
    adapt,
    adapt_frame,
    estimate_neutral,
    frame_domain,
    linearize,
    packed_matrix,
    to_model_input,
)
from isplab.camera.profile import ULTRAISP_MAI_DOMAIN, RawDomain
from isplab.errors import IsplabError
from isplab.raw.bayer import CFA, black_level_map, pack_rgb, unpack
from isplab.raw.readers import RawImage

# XYZ -> camera RGB of two made-up sensors (rows R, G, B), and their levels.
CM_A = np.array([[0.90, 0.30, -0.15], [-0.25, 1.15, 0.10], [0.05, -0.20, 0.95]])
CM_B = np.array([[1.10, -0.05, 0.05], [-0.10, 0.95, 0.20], [0.10, 0.10, 0.70]])
A = {"black": (64.0, 64.0, 64.0, 64.0), "white": 1023.0}
B = {"black": (256.0, 250.0, 252.0, 255.0), "white": 4095.0}


def scene(h: int = 24, w: int = 32, smooth: bool = False) -> np.ndarray:
    """XYZ ``(3, 2h, 2w)`` at photosite resolution, kept inside both cameras' range: constant over each
    2x2 Bayer tile, or a smooth field that varies inside the tiles too."""
    if smooth:
        yy, xx = np.mgrid[0 : 2 * h, 0 : 2 * w] / (2 * max(h, w))
        return np.stack([0.3 + 0.1 * np.sin(6 * xx), 0.3 + 0.1 * yy, 0.25 + 0.1 * np.cos(4 * yy + 2 * xx)])
    tiles = np.random.default_rng(0).uniform(0.15, 0.4, size=(3, h, w))
    return tiles.repeat(2, axis=1).repeat(2, axis=2)


def camera_codes(xyz: np.ndarray, matrix: np.ndarray, levels: dict, gains=(1.0, 1.0, 1.0)) -> np.ndarray:
    """Packed raw values ``(4, h, w)`` (canonical order) of an RGGB camera seeing ``xyz`` ``(3, 2h, 2w)``:
    each photosite samples its own colour at its own position."""
    cam = np.einsum("oc,chw->ohw", matrix, xyz) * np.reshape(gains, (3, 1, 1))
    assert 0 < cam.min() and cam.max() < 1, "scene outside the synthetic camera's range"
    signal = pack_rgb(torch.from_numpy(cam), CFA.RGGB).numpy()
    black = np.reshape(levels["black"], (4, 1, 1))
    return (black + signal * (levels["white"] - black)).astype(np.float32)


def test_colour_matrices_map_camera_a_onto_camera_b_exactly() -> None:
    xyz = scene()
    codes, record = adapt(camera_codes(xyz, CM_A, A), RawDomain(**A, colour_matrix=CM_A),
                          RawDomain(**B, colour_matrix=CM_B))
    expected = camera_codes(xyz, CM_B, B)
    assert np.abs(codes - expected).max() <= 1e-4 * (B["white"] - 256)  # float32 rounding only
    assert record.matrix is not None and record.gains == (1.0, 1.0, 1.0, 1.0)
    assert any("model neutral unknown" in n for n in record.notes)


def test_smooth_scene_within_stated_tolerance() -> None:
    """Real scenes vary inside a Bayer tile, and the 3x3 mixes neighbouring sites: 0.15% of range here."""
    xyz = scene(48, 64, smooth=True)
    codes, _ = adapt(camera_codes(xyz, CM_A, A), RawDomain(**A, colour_matrix=CM_A),
                     RawDomain(**B, colour_matrix=CM_B))
    assert np.abs(codes - camera_codes(xyz, CM_B, B)).max() <= 3e-3 * (B["white"] - 256)


def test_neutrals_and_exposure_map_a_gain_camera_onto_another() -> None:
    """Without matrices: cameras that differ by channel gains, related through their neutrals."""
    xyz = scene()
    gains_a, gains_b = np.array([0.5, 0.8, 0.7]), np.array([0.9, 0.6, 0.4])  # R, G, B sensitivities
    neutral_a = tuple(gains_a[[2, 1, 0, 1]])  # what a grey (XYZ-identity) surface gives
    neutral_b = tuple(gains_b[[2, 1, 0, 1]])
    source = RawDomain(**A, neutral=neutral_a)
    target = RawDomain(**B, neutral=neutral_b)
    exposure = gains_b[1] / gains_a[1]  # the greens differ too: that is exposure, not white balance
    codes, record = adapt(camera_codes(xyz, np.eye(3), A, gains_a), source, target, exposure=exposure)
    assert np.abs(codes - camera_codes(xyz, np.eye(3), B, gains_b)).max() <= 1e-4 * (B["white"] - 256)
    assert record.neutral_method == "as-shot" and record.exposure == pytest.approx(exposure)
    json.dumps(record.to_dict())  # the record goes into output metadata as is


def test_estimators_recover_the_illuminant_of_a_grey_scene() -> None:
    rng = np.random.default_rng(1)
    neutral = np.array([0.55, 1.0, 0.45, 1.0])
    grey = rng.uniform(0.05, 0.9, size=(1, 40, 40)) * neutral.reshape(4, 1, 1) / 1.05
    grey[:, :3, :3] = [[[0.99]], [[0.2]], [[0.99]], [[0.2]]]  # saturated, off-colour: ignored
    for method in ("grey-world", "grey-edge", "white-patch"):
        assert estimate_neutral(grey, method) == pytest.approx(tuple(neutral), rel=1e-5), method
    with pytest.raises(IsplabError, match="unknown neutral estimator 'max'"):
        estimate_neutral(grey, "max")
    with pytest.raises(IsplabError, match="too little unsaturated signal"):
        estimate_neutral(np.ones((4, 8, 8), dtype=np.float32), "grey-world")


def test_missing_as_shot_neutral_falls_back_and_says_so() -> None:
    ramp = np.linspace(0.1, 0.3, 64, dtype=np.float32).reshape(8, 8)  # edges for grey-edge to measure
    signal = ramp * np.array([0.5, 1, 0.4, 1], dtype=np.float32).reshape(4, 1, 1)
    out, record = adapt(signal * 1020, RawDomain(), RawDomain(neutral=(0.6, 1, 0.6, 1)))
    assert record.neutral_method == FALLBACK_NEUTRAL and "no as-shot neutral" in record.notes[0]
    assert np.allclose(linearize(out, RawDomain()), ramp * np.array([0.6, 1, 0.6, 1]).reshape(4, 1, 1), atol=1e-5)


def test_model_input_keeps_the_pedestal_the_model_was_trained_with() -> None:
    x = to_model_input(np.zeros((4, 1, 1), dtype=np.float32), ULTRAISP_MAI_DOMAIN)
    assert x.ravel() == pytest.approx(np.array([62, 60, 58, 61]) / 1020)


def test_packed_matrix_keeps_each_green_site() -> None:
    mix = packed_matrix(np.eye(3))
    assert np.array_equal(mix, np.eye(4))


def test_adapt_frame_reads_levels_neutral_and_matrix_from_the_frame() -> None:
    xyz = scene(8, 8)
    codes = camera_codes(xyz, CM_A, {"black": (60.0, 64.0, 62.0, 66.0), "white": 1023.0})
    mosaic = unpack(codes, CFA.GRBG).round().astype(np.uint16)
    black = black_level_map(mosaic.shape, CFA.GRBG, (60.0, 64.0, 62.0, 66.0))
    raw = RawImage(mosaic, CFA.GRBG, black, 1023.0, wb_gains=np.array([2.0, 1.0, 1.6]), xyz_to_cam=CM_A)
    domain = frame_domain(raw)
    assert domain.black == (60.0, 64.0, 62.0, 66.0) and domain.neutral == pytest.approx((0.625, 1, 0.5, 1))
    target = RawDomain(colour_matrix=CM_B, neutral=(0.7, 1, 0.6, 1))
    x, record = adapt_frame(raw, target)
    assert x.shape == (4, 8, 8) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert record.neutral_method == "as-shot" and record.matrix is not None and record.notes == ()
