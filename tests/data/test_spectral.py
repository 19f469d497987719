"""Spectral cameras (isplab.data.spectral): physics of the draws, the DNG pipeline in the loop, configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.camera.profile import LINEAR_SRGB_DOMAIN
from isplab.data.spectral import SpectralData, SpectralFamily
from isplab.data.stream import SyntheticStream, camera_family
from isplab.errors import DataError


@pytest.fixture(scope="module")
def family() -> SpectralFamily:
    return SpectralFamily(bank=24)


def test_every_draw_takes_the_light_s_white_to_the_model_neutral(family):
    draws = family.draws
    assert draws["scene"].shape == (24, 3, 3) and draws["to_model"].shape == (24, 3, 3)
    for scene, to_model, neutral in zip(draws["scene"], draws["to_model"], draws["neutral"], strict=True):
        white = scene @ np.ones(3)  # a white surface under the light, camera RGB
        np.testing.assert_allclose(white / white[1], neutral, rtol=1e-9)
        model_white = to_model @ white  # exposed so the model sees it at green 1 and its own neutral
        np.testing.assert_allclose(model_white, [1.0, 1.0, 1.0], rtol=1e-6)  # white-balanced linear sRGB


def test_draws_differ_and_are_a_pure_function_of_the_fields(family):
    again = SpectralFamily(bank=24).draws
    for key in ("scene", "to_model"):
        np.testing.assert_array_equal(family.draws[key], again[key])
    neutrals = family.draws["neutral"]
    assert np.ptp(neutrals[:, 2]) > 0.3  # blue/green spans tungsten to daylight
    other = SpectralFamily(bank=24, seed=1).draws
    assert not np.allclose(other["scene"], family.draws["scene"])


def test_maker_calibration_follows_the_dng_colour_matrix_convention():
    """The white of the calibration light has its brightest camera channel at 1."""
    data = SpectralData()
    d65 = data.light_named("D65")
    sensor = data.parametric_sensor(np.random.default_rng(3))
    matrix = data.calibrate(sensor, d65)
    white = (d65 @ data.cmfs) / (d65 @ data.cmfs[:, 1])
    assert (matrix @ white).max() == pytest.approx(1.0)  # DNG ColorMatrix scaling


def test_render_gives_model_inputs_and_records(family):
    srgb = torch.rand(3, 3, 16, 16)
    raw, records = family.render(srgb, np.random.default_rng(0))
    assert raw.shape == (3, 4, 8, 8) and raw.dtype == torch.float32
    assert 0 <= raw.min() and raw.max() <= 1
    assert len(records) == 3 and {"draw", "exposure_gain", "neutral"} <= set(records[0])
    raw2, _ = family.render(srgb, np.random.default_rng(0))
    assert torch.equal(raw, raw2)


def test_stream_with_spectral_family(family):
    stream = SyntheticStream(camera=family, patch=32, seed=0)
    raw, target = stream.batch(0, 2)
    assert raw.shape == (2, 4, 16, 16) and target.shape == (2, 3, 32, 32)


def test_camera_family_dispatches_on_kind():
    assert isinstance(camera_family({"kind": "spectral", "bank": 4}), SpectralFamily)
    spectral = camera_family({"kind": "spectral"}).colour_space()
    assert spectral.colour_matrix == LINEAR_SRGB_DOMAIN.colour_matrix and spectral.neutral == (1.0,) * 4
    assert spectral.auto_exposure == pytest.approx(1 / 1.125)
    assert type(camera_family(None)).__name__ == "CameraFamily"
    with pytest.raises(DataError, match="unknown camera family kind 'foveon'"):
        camera_family({"kind": "foveon"})
    with pytest.raises(ValueError, match="lights must be some of"):
        SpectralFamily(lights=("sodium",))
    with pytest.raises(ValueError, match="unknown sensor 'Canon'"):
        _ = SpectralFamily(sensors=("Canon",), bank=1).draws


def test_round_trip_through_a_dict():
    family = SpectralFamily(lights=("planckian",), cct=(3000.0, 4000.0), bank=8)
    assert camera_family(family.to_dict()) == family
