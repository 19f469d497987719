"""Bayer packing, phases, normalisation and CFA-consistent augmentation (isplab.raw.bayer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.raw.bayer import (
    CFA,
    DIHEDRAL,
    augment_pair,
    black_level_map,
    mosaic_cfa_after,
    normalize,
    normalize_packed,
    pack,
    pack_rgb,
    unpack,
)

PHASES = [c.value for c in CFA]


def official_pack(raw: np.ndarray) -> np.ndarray:
    """The challenge loaders' slicing (PyNET / MicroISP ``extract_bayer_channels``), channels first."""
    ch_b, ch_gb, ch_r, ch_gr = raw[1::2, 1::2], raw[0::2, 1::2], raw[0::2, 0::2], raw[1::2, 0::2]
    return np.dstack((ch_b, ch_gb, ch_r, ch_gr)).transpose(2, 0, 1)


def mosaic_from_planes(planes: dict[str, np.ndarray], cfa: str) -> np.ndarray:
    """Build a mosaic from colour planes ``R``, ``Gr`` (green on red rows), ``Gb``, ``B`` without bayer.py."""
    h, w = planes["R"].shape
    mosaic = np.zeros((2 * h, 2 * w), dtype=planes["R"].dtype)
    tile = np.array(list(cfa)).reshape(2, 2)
    for dy in range(2):
        for dx in range(2):
            letter = tile[dy, dx]
            if letter == "G":
                letter = "Gr" if "R" in tile[dy] else "Gb"
            mosaic[dy::2, dx::2] = planes[letter]
    return mosaic


def dihedral(image: np.ndarray, index: int) -> np.ndarray:
    """Transform the last two axes like ``DIHEDRAL[index]``: transpose, then flip rows, then columns."""
    transpose, flip_v, flip_h = DIHEDRAL[index]
    if transpose:
        image = np.swapaxes(image, -1, -2)
    if flip_v:
        image = image[..., ::-1, :]
    if flip_h:
        image = image[..., ::-1]
    return image


def phase_after(cfa: str, index: int, shape: tuple[int, int]) -> str:
    """The CFA phase of the transformed mosaic, read off a transformed mosaic of letters."""
    letters = np.tile(np.array(list(cfa)).reshape(2, 2), (shape[0] // 2, shape[1] // 2))
    return "".join(dihedral(letters, index)[:2, :2].ravel())


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def test_pack_equals_official_slicing(rng):
    raw = rng.integers(0, 1024, (8, 12), dtype=np.uint16)
    np.testing.assert_array_equal(pack(raw, "RGGB"), official_pack(raw))
    np.testing.assert_array_equal(pack(raw), official_pack(raw))  # RGGB is the default


@pytest.mark.parametrize("cfa", PHASES)
def test_every_phase_packs_to_the_same_colours(rng, cfa):
    planes = {k: rng.integers(0, 1024, (3, 5), dtype=np.uint16) for k in ("R", "Gr", "Gb", "B")}
    packed = pack(mosaic_from_planes(planes, cfa), cfa)
    np.testing.assert_array_equal(packed, np.stack([planes["B"], planes["Gr"], planes["R"], planes["Gb"]]))


@pytest.mark.parametrize("cfa", PHASES)
def test_unpack_round_trip(rng, cfa):
    mosaic = rng.random((6, 10)).astype(np.float32)
    np.testing.assert_array_equal(unpack(pack(mosaic, cfa), cfa), mosaic)
    packed = rng.random((4, 3, 5))
    np.testing.assert_array_equal(pack(unpack(packed, cfa), cfa), packed)


@pytest.mark.parametrize("cfa", PHASES)
def test_pack_rgb_samples_each_site_colour(rng, cfa):
    rgb = rng.random((2, 3, 6, 8)).astype(np.float32)  # batched
    packed = pack_rgb(torch.from_numpy(rgb), cfa).numpy()
    assert packed.shape == (2, 4, 3, 4)
    tile = np.array(list(cfa)).reshape(2, 2)
    for i in range(2):
        mosaic = np.empty((6, 8), np.float32)
        for dy in range(2):  # each site keeps the colour its filter passes
            for dx in range(2):
                mosaic[dy::2, dx::2] = rgb[i, "RGB".index(tile[dy, dx]), dy::2, dx::2]
        np.testing.assert_array_equal(packed[i], pack(mosaic, cfa))


@pytest.mark.parametrize("cfa", PHASES)
@pytest.mark.parametrize("index", range(8))
def test_augment_pair_equals_packing_the_transformed_mosaic(rng, cfa, index):
    mosaic = rng.integers(0, 1024, (8, 8), dtype=np.uint16)  # square so transposes keep the shape
    target = rng.random((3, 8, 8)).astype(np.float32)
    packed, aug_target = augment_pair(torch.from_numpy(pack(mosaic, cfa).astype(np.int32)),
                                      torch.from_numpy(target), index)
    new_mosaic = dihedral(mosaic, index)
    new_cfa = phase_after(cfa, index, mosaic.shape)
    assert mosaic_cfa_after(cfa, index, mosaic.shape) == CFA.parse(new_cfa)
    np.testing.assert_array_equal(packed.numpy(), pack(np.ascontiguousarray(new_mosaic), new_cfa))
    np.testing.assert_array_equal(aug_target.numpy(), dihedral(target, index))
    assert packed.is_contiguous() and aug_target.is_contiguous()
    batched, _ = augment_pair(torch.from_numpy(pack(mosaic, cfa).astype(np.int32))[None].repeat(2, 1, 1, 1),
                              torch.from_numpy(target)[None].repeat(2, 1, 1, 1), index)
    torch.testing.assert_close(batched[1], packed)  # leading batch dimensions are carried along


def test_dihedral_group_has_eight_distinct_elements(rng):
    image = torch.from_numpy(rng.random((1, 4, 4)))
    outputs = {augment_pair(image.repeat(4, 1, 1), image, k)[1].numpy().tobytes() for k in range(8)}
    assert len(outputs) == 8
    torch.testing.assert_close(augment_pair(image.repeat(4, 1, 1), image, 0)[1], image)


def test_normalize_clips_and_scales():
    raw = np.array([[0, 64], [600, 1100]], dtype=np.uint16)
    out = normalize(raw, 64, 1020, clip=True)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0, 0], [(600 - 64) / 956, 1]], rtol=1e-6)
    unclipped = normalize(raw, 0, 1020, clip=False)  # the challenge datasets' maths
    np.testing.assert_array_equal(unclipped, raw.astype(np.float32) / np.float32(1020))
    with pytest.raises(TypeError, match="clip"):  # every caller says whether it clips
        normalize(raw, 0, 1020)


@pytest.mark.parametrize("cfa", PHASES)
def test_per_channel_black_level(cfa):
    black = (10.0, 20.0, 30.0, 40.0)  # canonical B, G_r, R, G_b
    black_map = black_level_map((4, 6), cfa, black)
    per_channel = np.reshape(black, (4, 1, 1))
    np.testing.assert_array_equal(pack(black_map, cfa), np.broadcast_to(per_channel, (4, 2, 3)))
    raw = black_map + 100
    packed = pack(normalize(raw, black_map, 1000, clip=False), cfa)
    expected = 100 / (1000 - per_channel)
    np.testing.assert_allclose(packed, np.broadcast_to(expected, (4, 2, 3)), rtol=1e-6)


@pytest.mark.parametrize("cfa", PHASES)
@pytest.mark.parametrize("black", ["zero", "scalar", "map"])
@pytest.mark.parametrize("clip", [False, True])
def test_normalize_packed_is_pack_of_normalize_bit_for_bit(rng, cfa, black, clip):
    mosaic = rng.integers(0, 1100, (6, 10)).astype(np.uint16)
    level = {"zero": 0.0, "scalar": 64.0, "map": rng.uniform(30, 70, (6, 10)).astype(np.float32)}[black]
    fused = normalize_packed(mosaic, cfa, level, 1020, clip=clip)
    assert fused.dtype == np.float32 and fused.shape == (4, 3, 5)
    np.testing.assert_array_equal(fused, pack(normalize(mosaic, level, 1020, clip=clip), cfa))


def test_normalize_packed_and_out_refuse_what_would_be_wrong(rng):
    mosaic = rng.integers(0, 1023, (4, 6)).astype(np.uint16)
    with pytest.raises(ValueError, match="per-photosite map"):  # per-channel levels: black_level_map first
        normalize_packed(mosaic, "RGGB", np.ones((4, 1, 1)), 1020, clip=False)
    with pytest.raises(ValueError, match="out must be float32"):
        normalize(mosaic, 0, 1020, clip=False, out=np.empty((4, 6)))


def test_normalize_writes_into_out_and_casts_like_astype(rng):
    codes = rng.integers(0, 1023, (4, 8)).astype(np.uint16)
    out = np.full((2, 8), np.nan, np.float32)
    assert normalize(codes[::2], 16, 1020, clip=False, out=out) is out  # a strided view of codes
    np.testing.assert_array_equal(out, (codes[::2].astype(np.float32) - np.float32(16)) / np.float32(1004))


def test_bad_inputs_raise_value_errors():
    with pytest.raises(ValueError, match="even"):
        pack(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="2-D"):
        pack(np.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match="unknown CFA"):
        CFA.parse("RGBX")
    with pytest.raises(ValueError, match="exceed"):
        normalize(np.zeros((2, 2)), 100, 50, clip=True)
    with pytest.raises(ValueError, match="RGB"):
        pack_rgb(torch.zeros(4, 4, 3))
