"""isplab.colorimetry against colour-science (the reference implementation isplab does not import at run time)."""

import warnings

import numpy as np
import pytest

from isplab.colorimetry import (
    BROOKS_MATRICES,
    CAT_SPACES,
    D50_XY,
    D65_XY,
    camera_colour_space,
    chromatic_adaptation,
    srgb_to_camera,
    xy_to_cct,
    xy_to_xyz,
    xyz_to_xy,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour


@pytest.mark.parametrize("xy", [D65_XY, D50_XY, (0.44757, 0.40745), (0.28, 0.29), (0.372, 0.375), (0.33, 0.34)])
def test_cct_matches_colour_science_robertson(xy):
    uv = colour.xy_to_UCS_uv(np.array(xy))
    expected = colour.uv_to_CCT(uv, method="Robertson 1968")[0]
    assert xy_to_cct(xy) == pytest.approx(expected, rel=1e-6)


def test_cct_of_named_lights():
    assert xy_to_cct(D65_XY) == pytest.approx(6504, abs=2)
    assert xy_to_cct((0.44757, 0.40745)) == pytest.approx(2856, abs=3)  # CIE A


@pytest.mark.parametrize("method, name", [("bradford", "Bradford"), ("cat02", "CAT02")])
def test_chromatic_adaptation_matches_colour_science(method, name):
    source, target = xy_to_xyz((0.44757, 0.40745)), xy_to_xyz(D50_XY)
    expected = colour.adaptation.matrix_chromatic_adaptation_VonKries(source, target, name)
    np.testing.assert_allclose(chromatic_adaptation(source, target, method), expected, atol=1e-9)
    np.testing.assert_allclose(chromatic_adaptation(source, target, method) @ source, target, atol=1e-12)


def test_unknown_adaptation_names_the_choices():
    with pytest.raises(ValueError, match="bradford, cat02"):
        chromatic_adaptation(np.ones(3), np.ones(3), "vonkries")
    assert set(CAT_SPACES) == {"bradford", "cat02"}


def test_xy_round_trip_and_bad_input():
    assert xyz_to_xy(xy_to_xyz((0.3, 0.4), 2.0)) == pytest.approx((0.3, 0.4))
    with pytest.raises(ValueError):
        xyz_to_xy([0.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        xy_to_xyz((0.3, 0.0))


def test_srgb_to_camera_keeps_white_white():
    np.testing.assert_allclose(srgb_to_camera(BROOKS_MATRICES[0]) @ np.ones(3), np.ones(3), atol=1e-12)


def test_camera_colour_space_sends_d65_to_the_neutral():
    matrix, neutral = camera_colour_space(np.asarray(BROOKS_MATRICES[0]), 2.0, 1.6)
    np.testing.assert_allclose(neutral, [0.5, 1.0, 0.625])
    np.testing.assert_allclose(matrix @ xy_to_xyz(D65_XY), neutral, atol=3e-4)  # sRGB white vs 4-digit D65 xy
    # sRGB primaries land where the Brooks unprocessing puts them: srgb_to_camera, then the inverse gains.
    srgb_to_xyz = colour.RGB_COLOURSPACES["sRGB"].matrix_RGB_to_XYZ
    np.testing.assert_allclose(matrix @ srgb_to_xyz, np.diag(neutral) @ srgb_to_camera(BROOKS_MATRICES[0]), atol=1e-4)
