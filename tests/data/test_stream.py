"""The on-the-fly embedded data (isplab.data.stream, isplab.data.camera): determinism, splits, physics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.data import CameraFamily, SyntheticStream, evaluation_set
from isplab.data.camera import expose, process, unprocess
from isplab.data.photos import photos_in
from isplab.data.stream import EVAL_MULTIPLE, hue_saturation_matrix
from isplab.errors import DataError
from isplab.raw.bayer import MAI_WHITE_LEVEL


@pytest.fixture(scope="module")
def stream():
    return SyntheticStream(patch=32, seed=3)


def test_batch_is_a_pure_function_of_seed_and_step(stream):
    raw, rgb = stream.batch(step=5, size=3)
    assert raw.shape == (3, 4, 16, 16) and rgb.shape == (3, 3, 32, 32)
    assert raw.dtype == rgb.dtype == torch.float32
    again = SyntheticStream(patch=32, seed=3).batch(step=5, size=3)  # a fresh stream, e.g. after resume
    torch.testing.assert_close(again[0], raw, rtol=0, atol=0)
    torch.testing.assert_close(again[1], rgb, rtol=0, atol=0)
    other_step, other_seed = stream.batch(step=6, size=3), SyntheticStream(patch=32, seed=4).batch(5, 3)
    assert not torch.equal(other_step[1], rgb) and not torch.equal(other_seed[1], rgb)


def test_raw_is_whole_10bit_codes_and_targets_are_images(stream):
    raw, rgb = stream.batch(step=0, size=4)
    codes = raw * MAI_WHITE_LEVEL
    torch.testing.assert_close(codes, codes.round(), rtol=0, atol=1e-3)
    assert codes.min() >= 0 and codes.max() <= MAI_WHITE_LEVEL
    assert rgb.min() >= 0 and rgb.max() <= 1 and rgb.std() > 0.05


def test_records_name_only_training_photos(stream):
    _, _, records = stream.sample(step=1, size=8)
    train = {p.name for p in photos_in("train")}
    assert {r["photo"] for r in records} <= train
    assert all(set(r["camera"]) >= {"red_gain", "blue_gain", "exposure_gain", "shot_noise"} for r in records)


def test_unprocess_then_process_gives_back_the_photo():
    rng = np.random.default_rng(0)
    family = CameraFamily(xyz_to_cam=[CameraFamily().xyz_to_cam, [[0.8, -0.2, -0.1], [-0.3, 1.1, 0.2],
                                                                 [-0.1, 0.1, 0.6]]], matrix_jitter=0.02)
    srgb = 0.3 + 0.4 * torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))  # no clipping
    draw = family.draw(4, rng)
    torch.testing.assert_close(process(unprocess(srgb, draw), draw), srgb, atol=2e-3, rtol=0)


def test_expose_black_level_and_noise():
    rng = np.random.default_rng(1)
    family = CameraFamily(black_level=(64, 64), shot_noise=(1e-8, 1e-8), read_noise_intercept=-40)
    draw = family.draw(2, rng)
    flat = torch.full((2, 3, 8, 8), 0.5)
    codes = expose(flat, draw, torch.Generator().manual_seed(0))
    assert codes.shape == (2, 4, 4, 4)
    expected = round(64 + 0.5 * (MAI_WHITE_LEVEL - 64))
    torch.testing.assert_close(codes, torch.full_like(codes, expected), rtol=0, atol=0)
    noisy = expose(flat, CameraFamily(shot_noise=(1e-2, 1e-2)).draw(2, rng), torch.Generator().manual_seed(0))
    assert noisy.std() > 10  # shot noise at 0.5 signal: sqrt(0.005) * 1020 ~ 70 codes


def test_recolour_rotates_hue_but_keeps_greys_and_luma():
    m = hue_saturation_matrix(np.array([np.pi / 2, 0.0]), np.array([1.0, 0.0]))
    grey = torch.full((2, 3, 1, 1), 0.4)
    from isplab.colour import apply_matrix

    torch.testing.assert_close(apply_matrix(grey, m), grey)
    red = torch.tensor([1.0, 0.2, 0.2]).view(1, 3, 1, 1).expand(2, 3, 1, 1)
    out = apply_matrix(red, m)
    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    torch.testing.assert_close((out * luma).sum(1), (red * luma).sum(1))
    torch.testing.assert_close(out[1], torch.full((3, 1, 1), float((red[0] * luma[0]).sum())))  # saturation 0


def test_evaluation_sets_are_fixed_whole_photos_of_their_split():
    val = evaluation_set("val", cameras=2, seed=0)
    assert [name for name, _, _ in val] == [p.name for p in photos_in("val")]
    for _, raw, rgb in val:
        assert rgb.shape[0] == raw.shape[0] == 2
        assert rgb.shape[-2] % EVAL_MULTIPLE == 0 and rgb.shape[-1] % EVAL_MULTIPLE == 0
        torch.testing.assert_close(rgb[0], rgb[1])  # the same photo ...
        assert not torch.equal(raw[0], raw[1])  # ... through two cameras
    again = evaluation_set("val", cameras=2, seed=0)
    torch.testing.assert_close(again[0][1], val[0][1], rtol=0, atol=0)


def test_bad_stream_settings_are_clear_errors():
    with pytest.raises(DataError, match="even"):
        SyntheticStream(patch=31)
    with pytest.raises(DataError, match="upsampled"):
        SyntheticStream(scale=(0.5, 2.0))
    with pytest.raises(DataError, match="larger than"):
        SyntheticStream(patch=4096)


def test_targets_are_the_recorded_crops_resampled_and_transformed():
    """An independent rebuild of every target from its record: the photo's box, /255, antialiased bicubic
    resize to the patch, clipped, then the recorded dihedral transform."""
    import torch.nn.functional as F

    from isplab.data.photos import load_photo
    from isplab.raw.bayer import augment_pair

    stream = SyntheticStream(patch=48, scale=(0.3, 0.6), recolour=0.0, seed=11)
    for step in (0, 1):
        _, target, records = stream.sample(step, 6)
        assert {r["transform"] for r in records} != {0}
        for got, record in zip(target, records, strict=True):
            photo = torch.tensor(load_photo(record["photo"])).permute(2, 0, 1)
            y, x, side = record["box"]
            assert 0 <= y <= photo.shape[1] - side and 0 <= x <= photo.shape[2] - side and side > 48
            crop = photo[None, :, y:y + side, x:x + side].float() / 255
            crop = F.interpolate(crop, size=(48, 48), mode="bicubic", antialias=True, align_corners=False)
            expected = augment_pair(torch.zeros(4, 1, 1), crop[0].clamp(0, 1), record["transform"])[1]
            torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    plain = SyntheticStream(patch=48, scale=(1.0, 1.0), recolour=0.0, augment=False, seed=11)
    _, target, records = plain.sample(0, 4)
    assert {r["transform"] for r in records} == {0} and {r["box"][2] for r in records} == {48}
    for got, record in zip(target, records, strict=True):
        y, x, side = record["box"]
        photo = torch.tensor(load_photo(record["photo"])).permute(2, 0, 1)
        assert torch.equal(got, photo[:, y:y + side, x:x + side].float() / 255)  # no resampling at scale 1


def test_photos_are_drawn_by_their_weights_and_crops_fit_them():
    stream = SyntheticStream(patch=400, scale=(1.0, 1.0), recolour=0.0, augment=False)  # coffee is 400 high
    rng = np.random.default_rng(0)
    counts: dict[str, int] = {}
    for _ in range(300):
        _, records = stream._crops(1, rng)
        name, (y, x, side) = records[0]["photo"], records[0]["box"]
        counts[name] = counts.get(name, 0) + 1
        if name == "coffee":
            assert y == 0 and 0 <= x <= 200 and side == 400
    weights = {p.name: p.weight for p in photos_in("train")}
    for name, weight in weights.items():  # hubble_deep_field has half the weight of the others
        assert counts[name] / 300 == pytest.approx(weight / sum(weights.values()), abs=0.06), counts


def test_recolour_records_angle_and_saturation():
    _, _, records = SyntheticStream(patch=16, recolour=1.0, seed=2).sample(0, 16)
    for record in records:
        degrees, saturation = record["recolour"]
        assert -180 <= degrees <= 180 and 0.7 <= saturation <= 1.4
        assert isinstance(degrees, float) and degrees == round(degrees, 2)
        assert isinstance(saturation, float) and saturation == round(saturation, 4)
    assert len({r["recolour"][0] for r in records}) == len({r["recolour"][1] for r in records}) == 16
    assert any(r["recolour"][0] != round(r["recolour"][0], 1) for r in records)  # 2 decimals kept, not 1
    _, _, half = SyntheticStream(patch=16, recolour=0.5, seed=2).sample(0, 16)
    untouched = [r for r in half if r["recolour"] == [0.0, 1.0]]
    assert 2 <= len(untouched) <= 14  # about half keep their colours, recorded as angle 0, saturation 1
    assert all(0.7 <= r["recolour"][1] <= 1.4 and r["recolour"][0] != 0.0 for r in half if r not in untouched)


def test_evaluation_targets_are_centre_crops_of_the_photo():
    from isplab.data.photos import load_photo

    for split in ("val", "test"):
        for name, _, target in evaluation_set(split, cameras=1):
            photo = torch.tensor(load_photo(name)).permute(2, 0, 1)
            h, w = target.shape[-2:]
            top, left = (photo.shape[1] - h) // 2, (photo.shape[2] - w) // 2
            assert (photo.shape[1] - h, photo.shape[2] - w) != (0, 0) and top > 0
            assert torch.equal(target[0], photo[:, top:top + h, left:left + w].float() / 255)
    (_, raw, target), = evaluation_set("val")  # defaults: 8 cameras, seed 0
    assert raw.shape[0] == target.shape[0] == 8
    torch.testing.assert_close(raw, evaluation_set("val", cameras=8, seed=0)[0][1], rtol=0, atol=0)


def test_hue_matrix_rotates_the_chroma_by_the_angle_and_scales_it():
    """Against YIQ written out here: luma kept, (I, Q) turned by the angle and scaled by the saturation."""
    to_yiq = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
    colour = torch.tensor([0.8, 0.3, 0.1])
    angles, sats = np.array([0.3, -1.2, 2.5]), np.array([1.0, 0.7, 1.3])
    for m, angle, sat in zip(hue_saturation_matrix(angles, sats), angles, sats, strict=True):
        y0, i0, q0 = to_yiq @ colour
        y1, i1, q1 = to_yiq @ (m @ colour)
        c, s = np.cos(angle) * sat, np.sin(angle) * sat
        assert float(y1) == pytest.approx(float(y0), abs=1e-5)
        assert float(i1) == pytest.approx(c * float(i0) - s * float(q0), abs=1e-5)
        assert float(q1) == pytest.approx(s * float(i0) + c * float(q0), abs=1e-5)


def test_stream_setting_limits_and_messages():
    assert SyntheticStream(patch=2).batch(0, 1)[1].shape == (1, 3, 2, 2)  # the smallest patch
    assert SyntheticStream(patch=400).patch == 400  # the smallest training photo's side
    SyntheticStream(scale=(0.5, 0.5))  # one scale
    with pytest.raises(DataError, match="patch 31 is not a positive even size. use an even patch size"):
        SyntheticStream(patch=31)
    with pytest.raises(DataError, match=r"scale range \(0.0, 1.0\) must satisfy 0 < low <= high <= 1\. crops are "
                                        "never upsampled: use scales up to 1"):
        SyntheticStream(scale=(0.0, 1.0))
    with pytest.raises(DataError, match="patch 402 is larger than the smallest train photo. use a patch up to 400$"):
        SyntheticStream(patch=402)
