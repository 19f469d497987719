"""DNG colour metadata: tags read from real files, and the DNG specification's camera -> XYZ mapping.

References are computed here independently (colour-science for CCT and Bradford), from the formulas of the
DNG specification 1.6, chapter 6."""

import warnings

import numpy as np
import pytest

from isplab.colorimetry import D50_XY, D65_XY, xy_to_xyz
from isplab.raw.bayer import CFA
from isplab.raw.dng import balanced_to_xyz, read_dng_colour, shot_colour
from isplab.raw.readers import read_raw

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import colour

CM_D65 = np.array([[0.9, -0.25, -0.1], [-0.45, 1.3, 0.1], [-0.05, 0.2, 0.55]])  # XYZ -> camera under D65
CM_A = np.array([[0.7, -0.1, -0.05], [-0.5, 1.4, 0.15], [-0.15, 0.35, 0.9]])  # XYZ -> camera under A
A_XY = (0.44757, 0.40745)


def bradford(source_xyz, target_xyz):
    return colour.adaptation.matrix_chromatic_adaptation_VonKries(source_xyz, target_xyz, "Bradford")


def unit_white(m):
    return m / m[1].sum()


def mosaic():
    return np.full((64, 64), 500, dtype=np.uint16)


def neutral_under(cm, xy):
    n = cm @ xy_to_xyz(xy)
    return n / n[1]


def test_single_illuminant_dng_gives_the_specification_matrix(tmp_path, write_dng):
    neutral = (0.55, 1.0, 0.75)
    path = write_dng(tmp_path / "one.dng", mosaic(), CFA.RGGB, xyz_to_cam=CM_D65, as_shot_neutral=neutral)
    tags = read_dng_colour(path)
    assert tags.illuminants == (21,) and len(tags.colour_matrices) == 1
    shot = shot_colour(tags)
    np.testing.assert_allclose(shot.xyz_to_camera, CM_D65, atol=1e-4)
    white = np.linalg.solve(CM_D65, np.array(neutral))
    expected = unit_white(bradford(white, xy_to_xyz(D50_XY)) @ np.linalg.inv(CM_D65) @ np.diag(neutral))
    np.testing.assert_allclose(shot.camera_to_xyz, expected, atol=2e-4)
    np.testing.assert_allclose(shot.camera_to_xyz @ np.ones(3), xy_to_xyz(D50_XY), atol=1e-9)  # neutral -> D50
    assert shot.forward_matrix is None and shot.baseline_exposure == 0.0


def test_forward_matrix_is_used_as_the_specification_says(tmp_path, write_dng):
    forward = np.array([[0.6, 0.25, 0.11], [0.25, 0.7, 0.05], [0.02, 0.1, 0.7]])
    forward = forward * (xy_to_xyz(D50_XY) / (forward @ np.ones(3)))[:, None]  # rows: white -> D50
    neutral = np.array([0.5, 1.0, 0.7])
    path = write_dng(tmp_path / "fm.dng", mosaic(), CFA.RGGB, xyz_to_cam=CM_D65, as_shot_neutral=tuple(neutral),
                     forward_matrices=(forward,))
    shot = shot_colour(read_dng_colour(path))
    # AnalogBalance and CameraCalibration absent: CameraToXYZ_D50 = FM @ diag(1 / neutral), applied to raw.
    np.testing.assert_allclose(shot.camera_to_xyz, unit_white(forward), atol=2e-4)
    np.testing.assert_allclose(balanced_to_xyz(CM_D65, neutral, shot.forward_matrix, "camera"), shot.camera_to_xyz)


def test_as_shot_white_xy_gives_the_neutral(tmp_path, write_dng):
    white = (0.40, 0.39)
    path = write_dng(tmp_path / "xy.dng", mosaic(), CFA.RGGB, xyz_to_cam=CM_D65, as_shot_neutral=None,
                     as_shot_white_xy=white)
    shot = shot_colour(read_dng_colour(path))
    np.testing.assert_allclose(shot.neutral, neutral_under(CM_D65, white), atol=2e-4)
    assert shot.white_xy == pytest.approx(white, abs=1e-4)
    np.testing.assert_allclose(read_raw(path).wb_gains, 1 / shot.neutral, rtol=1e-9)


@pytest.mark.parametrize("light, weight_a", [(A_XY, 1.0), (D65_XY, 0.0)])
def test_dual_illuminant_at_a_calibration_light_uses_its_matrix(tmp_path, write_dng, light, weight_a):
    neutral = neutral_under(CM_A if weight_a else CM_D65, light)
    path = write_dng(tmp_path / "dual.dng", mosaic(), CFA.RGGB, xyz_to_cam=CM_A, illuminant=17,
                     colour_matrix2=CM_D65, illuminant2=21, as_shot_neutral=tuple(neutral))
    shot = shot_colour(read_dng_colour(path))
    np.testing.assert_allclose(shot.xyz_to_camera, CM_A if weight_a else CM_D65, atol=3e-3)


def test_dual_illuminant_between_the_calibrations_interpolates(tmp_path, write_dng):
    neutral = (0.5, 1.0, 0.62)
    path = write_dng(tmp_path / "dual.dng", mosaic(), CFA.RGGB, xyz_to_cam=CM_A, illuminant=17,
                     colour_matrix2=CM_D65, illuminant2=21, as_shot_neutral=neutral)
    shot = shot_colour(read_dng_colour(path))
    cct = colour.uv_to_CCT(colour.xy_to_UCS_uv(np.array(shot.white_xy)), method="Robertson 1968")[0]
    assert 2850 < cct < 6500
    g = (1 / cct - 1 / 6500) / (1 / 2850 - 1 / 6500)  # weight of the A calibration, in inverse temperature
    expected = g * CM_A + (1 - g) * CM_D65
    np.testing.assert_allclose(shot.xyz_to_camera, expected, atol=3e-4)
    # The white is self-consistent: that matrix takes the white's XYZ to the as-shot neutral.
    np.testing.assert_allclose(neutral_under(expected, shot.white_xy), neutral, atol=5e-4)


def test_analog_balance_and_camera_calibration_enter_xyz_to_camera(tmp_path, write_dng):
    calibration = np.diag([1.05, 1.0, 0.95])
    balance = (1.1, 1.0, 0.9)
    path = write_dng(tmp_path / "cc.dng", mosaic(), CFA.RGGB, xyz_to_cam=CM_D65, camera_calibrations=(calibration,),
                     analog_balance=balance, baseline_exposure=0.5)
    shot = shot_colour(read_dng_colour(path))
    np.testing.assert_allclose(shot.xyz_to_camera, np.diag(balance) @ calibration @ CM_D65, atol=3e-4)
    assert shot.baseline_exposure == pytest.approx(0.5)
    assert read_raw(path).baseline_exposure == pytest.approx(0.5)


def test_reader_fills_the_colour_of_a_dng_librraw_cannot_name(tmp_path, write_dng):
    """rawpy's rgb_xyz_matrix is all zeros for such a DNG: the tags must still reach the frame."""
    import rawpy

    neutral = neutral_under(CM_D65, D65_XY)
    path = write_dng(tmp_path / "d65.dng", mosaic(), CFA.RGGB, xyz_to_cam=CM_D65, as_shot_neutral=tuple(neutral))
    with rawpy.imread(str(path)) as raw:
        assert not np.any(raw.rgb_xyz_matrix)
        libraw_rgb_cam = np.asarray(raw.color_matrix)[:, :3]
    image = read_raw(path)
    np.testing.assert_allclose(image.xyz_to_cam, CM_D65, atol=1e-4)
    # Under D65 light every method agrees with LibRaw's rgb_cam (camera -> sRGB after white balance).
    np.testing.assert_allclose(image.cam_to_srgb, libraw_rgb_cam, atol=2e-3)


@pytest.mark.parametrize("method", ["dng", "camera", "mixed"])
def test_balanced_to_xyz_sends_the_neutral_to_d50(method):
    neutral = np.array([0.6, 1.0, 0.4])
    m = balanced_to_xyz(CM_A, neutral, method=method)
    np.testing.assert_allclose(m @ np.ones(3), xy_to_xyz(D50_XY), atol=1e-12)


def test_methods_differ_away_from_d65_and_agree_at_it():
    at_d65 = [balanced_to_xyz(CM_D65, neutral_under(CM_D65, D65_XY), method=m) for m in ("dng", "camera")]
    np.testing.assert_allclose(*at_d65, atol=1e-4)
    under_a = {m: balanced_to_xyz(CM_D65, neutral_under(CM_D65, A_XY), method=m) for m in ("dng", "camera", "mixed")}
    assert np.abs(under_a["dng"] - under_a["camera"]).max() > 0.01
    np.testing.assert_allclose(under_a["mixed"], (under_a["dng"] + under_a["camera"]) / 2)
    # camera: white balance in camera space, then the D65 matrix: camera RGB -> XYZ(D65) -> Bradford to D50.
    d65 = xy_to_xyz(D65_XY)
    expected = bradford(d65, xy_to_xyz(D50_XY)) @ np.linalg.inv(CM_D65) @ np.diag(CM_D65 @ d65)
    np.testing.assert_allclose(under_a["camera"], unit_white(expected), atol=1e-6)


def test_file_without_colour_matrix_has_no_colour(tmp_path):
    import tifffile

    path = tmp_path / "plain.dng"
    tifffile.imwrite(path, np.zeros((8, 8), np.uint16))
    assert read_dng_colour(path) is None
