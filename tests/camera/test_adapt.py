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
    adapt_linear,
    estimate_neutral,
    frame_domain,
    linearize,
    packed_matrix,
    to_model_input,
)
from isplab.camera.profile import ULTRAISP_MAI_DOMAIN, RawDomain, neutral_from_rgb
from isplab.colorimetry import D65_XY, xy_to_xyz
from isplab.errors import IsplabError
from isplab.raw.bayer import CFA, black_level_map, pack_rgb, unpack
from isplab.raw.readers import RawImage

# XYZ -> camera RGB of two made-up sensors (rows R, G, B) for D65 light, scaled so a D65 white (Y = 1) gives
# green 1 in both (the same exposure), and their levels. Their neutrals: that white's camera RGB.
D65 = xy_to_xyz(D65_XY)
CM_A = np.array([[0.90, 0.30, -0.15], [-0.25, 1.15, 0.10], [0.05, -0.20, 0.95]])
CM_B = np.array([[1.10, -0.05, 0.05], [-0.10, 0.95, 0.20], [0.10, 0.10, 0.70]])
CM_A, CM_B = CM_A / (CM_A @ D65)[1], CM_B / (CM_B @ D65)[1]
A = {"black": (64.0, 64.0, 64.0, 64.0), "white": 1023.0, "neutral": neutral_from_rgb(CM_A @ D65)}
B = {"black": (256.0, 250.0, 252.0, 255.0), "white": 4095.0, "neutral": neutral_from_rgb(CM_B @ D65)}


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


@pytest.mark.parametrize("method", ["mixed", "dng", "camera"])
def test_colour_matrices_map_camera_a_onto_camera_b_exactly(method) -> None:
    """Both cameras under the same light: every colour method reduces to ``CM_B @ inv(CM_A)``."""
    xyz = scene()
    codes, record = adapt(camera_codes(xyz, CM_A, A), RawDomain(**A, colour_matrix=CM_A),
                          RawDomain(**B, colour_matrix=CM_B), colour_method=method)
    expected = camera_codes(xyz, CM_B, B)
    assert np.abs(codes - expected).max() <= 1e-4 * (B["white"] - 256)  # float32 rounding only
    np.testing.assert_allclose(record.matrix, CM_B @ np.linalg.inv(CM_A), atol=1e-9)
    assert record.gains == (1.0, 1.0, 1.0, 1.0) and record.notes == () and record.colour_method == method


def test_smooth_scene_within_stated_tolerance() -> None:
    """Real scenes vary inside a Bayer tile, and the 3x3 mixes neighbouring sites: 0.2% of range here."""
    xyz = scene(48, 64, smooth=True)
    codes, _ = adapt(camera_codes(xyz, CM_A, A), RawDomain(**A, colour_matrix=CM_A),
                     RawDomain(**B, colour_matrix=CM_B))
    assert np.abs(codes - camera_codes(xyz, CM_B, B)).max() <= 2e-3 * (B["white"] - 256)


def test_a_light_away_from_d65_lands_on_the_model_neutral() -> None:
    """Under tungsten light the frame's white (its as-shot neutral) becomes the model's neutral exactly."""
    a_white = xy_to_xyz((0.44757, 0.40745))
    neutral_a = CM_A @ a_white / (CM_A @ a_white)[1]
    source = RawDomain(black=A["black"], white=A["white"], neutral=neutral_from_rgb(neutral_a), colour_matrix=CM_A)
    target = RawDomain(**B, colour_matrix=CM_B)
    grey = np.ones((4, 2, 2), dtype=np.float32) * np.float32(0.3) * np.array(source.neutral, np.float32)[:, None, None]
    out, record = adapt_linear(grey, source, target)
    np.testing.assert_allclose(out[:, 0, 0], 0.3 * np.array(target.neutral), rtol=1e-5)
    assert not np.allclose(record.matrix, CM_B @ np.linalg.inv(CM_A), atol=1e-3)  # not the D65 mapping


def test_neutrals_and_exposure_map_a_gain_camera_onto_another() -> None:
    """Without matrices: cameras that differ by channel gains, related through their neutrals."""
    xyz = scene()
    gains_a, gains_b = np.array([0.5, 0.8, 0.7]), np.array([0.9, 0.6, 0.4])  # R, G, B sensitivities
    neutral_a = tuple(gains_a[[2, 1, 0, 1]])  # what a grey (XYZ-identity) surface gives
    neutral_b = tuple(gains_b[[2, 1, 0, 1]])
    source = RawDomain(**{**A, "neutral": neutral_a})
    target = RawDomain(**{**B, "neutral": neutral_b})
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


def test_packed_matrix_feeds_red_and_blue_the_mean_of_both_greens() -> None:
    m = np.array([[1.5, -0.4, -0.1], [-0.2, 1.3, -0.1], [0.05, -0.5, 1.45]])
    b, gr, r, gb = 0.2, 0.5, 0.3, 0.7  # unequal greens: the difference must show
    out = packed_matrix(m) @ np.array([b, gr, r, gb])
    green = (gr + gb) / 2
    assert out[2] == pytest.approx(m[0, 0] * r + m[0, 1] * green + m[0, 2] * b)  # R
    assert out[0] == pytest.approx(m[2, 0] * r + m[2, 1] * green + m[2, 2] * b)  # B
    assert out[1] == pytest.approx(m[1, 0] * r + m[1, 1] * gr + m[1, 2] * b)  # G_r keeps its own site
    assert out[3] == pytest.approx(m[1, 0] * r + m[1, 1] * gb + m[1, 2] * b)  # G_b too


def test_adapt_frame_reads_levels_neutral_and_matrix_from_the_frame() -> None:
    xyz = scene(8, 8)
    levels = {"black": (60.0, 64.0, 62.0, 66.0), "white": 1023.0}
    codes = camera_codes(xyz, CM_A, levels)
    mosaic = unpack(codes, CFA.GRBG).round().astype(np.uint16)
    black = black_level_map(mosaic.shape, CFA.GRBG, levels["black"])
    neutral_rgb = CM_A @ D65
    raw = RawImage(mosaic, CFA.GRBG, black, 1023.0, wb_gains=1 / neutral_rgb, xyz_to_cam=CM_A)
    domain = frame_domain(raw)
    assert domain.black == levels["black"] and domain.neutral == pytest.approx(A["neutral"])
    np.testing.assert_array_equal(domain.colour_matrix, CM_A)  # as stored, not transposed
    target = RawDomain(colour_matrix=CM_B, neutral=B["neutral"])
    x, record = adapt_frame(raw, target)
    assert x.shape == (4, 8, 8) and x.dtype == np.float32
    assert record.neutral_method == "as-shot" and record.notes == ()
    # The frame lands where camera B puts the same scene (to the mosaic's whole-code rounding).
    expected = camera_codes(xyz, CM_B, {"black": (0.0,) * 4, "white": 1020.0}) / 1020
    assert np.abs(x - expected).max() < 2e-3
