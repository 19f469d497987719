"""ColorChecker geometry, the chroma + hue error, and camera profiles fitted to synthetic chart captures."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from isplab.camera.colorchecker import (
    GREYS,
    chroma_hue_error,
    fit_profile,
    patch_centres,
    patch_means,
    reference_xyz,
)
from isplab.camera.profile import load_profile, rgb_of
from isplab.cli import main
from isplab.colorimetry import D65_XY, xy_to_xyz
from isplab.errors import IsplabError

CM_TRUE = np.array([[0.95, -0.2, -0.12], [-0.42, 1.25, 0.12], [-0.06, 0.22, 0.62]])  # XYZ -> camera, D65
PATCH, GAP = 40, 10


def grid_centres() -> np.ndarray:
    i = np.arange(24)
    return np.stack([GAP + i % 6 * (PATCH + GAP) + PATCH / 2, GAP + i // 6 * (PATCH + GAP) + PATCH / 2], 1)


def chart_mosaic(matrix: np.ndarray, black: float = 64, white: float = 1023) -> np.ndarray:
    """An RGGB mosaic of the chart seen by a camera ``matrix`` under D65 (white patch at ~80% of range)."""
    camera = reference_xyz("D65") @ matrix.T
    camera = camera / camera[18].max() * 0.8
    h, w = 4 * PATCH + 5 * GAP, 6 * PATCH + 7 * GAP
    image = np.full((h, w, 3), 0.02)
    for (x, y), rgb in zip(grid_centres(), camera, strict=True):
        image[int(y - PATCH / 2):int(y + PATCH / 2), int(x - PATCH / 2):int(x + PATCH / 2)] = rgb
    mosaic = image[..., 1].copy()
    mosaic[0::2, 0::2], mosaic[1::2, 1::2] = image[0::2, 0::2, 0], image[1::2, 1::2, 2]
    return np.round(black + mosaic * (white - black)).astype(np.uint16)


def test_patch_centres_follow_a_perspective_view():
    grid = grid_centres()
    h = np.array([[0.9, 0.1, 30], [-0.05, 1.1, 20], [1e-4, 2e-4, 1]])  # some homography
    mapped = np.c_[grid, np.ones(24)] @ h.T
    mapped = mapped[:, :2] / mapped[:, 2:]
    corners = mapped[[0, 5, 23, 18]]
    np.testing.assert_allclose(patch_centres(corners), mapped, atol=1e-6)
    with pytest.raises(IsplabError, match="patches 1, 6, 24 and 19"):
        patch_centres([(0, 0), (1, 1)])


def test_patch_means_refuse_patches_outside_the_frame():
    with pytest.raises(IsplabError, match="outside the .* frame: check --corners"):
        patch_means(np.zeros((50, 50, 3)), grid_centres())


def test_chroma_hue_error_ignores_lightness_only():
    reference = np.array([[50.0, 20.0, -10.0], [70.0, 0.0, 0.0]])
    assert chroma_hue_error(reference + [[10.0, 0, 0], [-20.0, 0, 0]], reference) == pytest.approx([0, 0], abs=1e-9)
    assert chroma_hue_error(reference + [[0, 5.0, 0], [0, 0, 0]], reference)[0] > 2


def test_fit_recovers_the_camera_matrix_and_neutral():
    camera = reference_xyz("D65") @ CM_TRUE.T
    fit = fit_profile(camera * 0.7)  # any exposure
    white = xy_to_xyz(D65_XY)
    expected = CM_TRUE / (CM_TRUE @ white).max()
    np.testing.assert_allclose(fit.xyz_to_camera, expected, atol=1e-9)
    np.testing.assert_allclose(fit.neutral, CM_TRUE @ white / (CM_TRUE @ white)[1], atol=1e-9)
    assert fit.mean_error < 1e-6


def test_fit_refuses_a_capture_without_greys():
    camera = reference_xyz("D65") @ CM_TRUE.T
    camera[list(GREYS)] = 0
    with pytest.raises(IsplabError, match="grey patches 20-23 have no signal"):
        fit_profile(camera)


def test_isplab_profile_recovers_the_matrix_of_a_chart_capture(tmp_path, write_png16, capsys):
    chart = write_png16(tmp_path / "chart.png", chart_mosaic(CM_TRUE))
    corners = ",".join(f"{v:g}" for v in grid_centres()[[0, 5, 23, 18]].ravel())
    out = tmp_path / "camera.yml"
    assert main(["profile", str(chart), "--corners", corners, "--black", "64", "--white", "1023",
                 "--out", str(out)]) == 0
    assert "mean CIEDE2000" in capsys.readouterr().out
    profile = load_profile(out)
    white = xy_to_xyz(D65_XY)
    # Mosaicked whole-code patches (means of ~400 photosites): the matrix to 0.5 %.
    np.testing.assert_allclose(profile.colour_matrix, CM_TRUE / (CM_TRUE @ white).max(), atol=5e-3)
    np.testing.assert_allclose(rgb_of(profile.neutral), CM_TRUE @ white / (CM_TRUE @ white)[1], atol=5e-3)
    assert profile.black == (64.0,) * 4 and profile.white == (1023.0,) * 4
    assert yaml.safe_load(out.read_text())["colour_matrix"]  # plain YAML, no tags


def test_isplab_profile_names_bad_corners(tmp_path, write_png16, capsys):
    chart = write_png16(tmp_path / "chart.png", chart_mosaic(CM_TRUE))
    assert main(["profile", str(chart), "--corners", "0,0,5000,0,5000,5000,0,5000", "--out",
                 str(tmp_path / "p.yml")]) == 2
    assert "check --corners" in capsys.readouterr().err
    assert not (tmp_path / "p.yml").exists()
