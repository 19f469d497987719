"""Raw file readers (isplab.raw.readers): PNG mosaics, headerless dumps, camera raws via rawpy."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from isplab.errors import DataError
from isplab.raw.bayer import CFA, normalize, pack
from isplab.raw.readers import (
    RawImage,
    cam_to_srgb,
    read_camera_raw,
    read_headerless_raw,
    read_png_mosaic,
    read_raw,
)

XYZ_TO_CAM = np.array([[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]])


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


# ---- PNG mosaics ------------------------------------------------------------------------------------


def test_png_mosaic_round_trip(tmp_path, rng, write_png16):
    mosaic = rng.integers(0, 1024, (6, 8), dtype=np.uint16)
    image = read_png_mosaic(write_png16(tmp_path / "m.png", mosaic), cfa="GBRG", black=16, white=1000)
    np.testing.assert_array_equal(image.mosaic, mosaic)
    assert image.cfa is CFA.GBRG and image.path == tmp_path / "m.png"
    np.testing.assert_array_equal(image.packed(), pack(normalize(mosaic, 16, 1000, clip=False), "GBRG"))
    np.testing.assert_array_equal(image.packed(clip=True), pack(normalize(mosaic, 16, 1000, clip=True), "GBRG"))
    assert image.packed().dtype == np.float32 and image.packed().shape == (4, 3, 4)


def test_png_frame_gives_the_model_its_training_input(tmp_path, write_png16):
    """Develop reads a dataset PNG exactly as training does: codes / 1020, 1021..1023 above 1 (unclipped)."""
    from isplab.data.datasets import pair_to_tensors

    mosaic = np.arange(1024 - 64, 1024, dtype=np.uint16).reshape(8, 8)
    packed = read_png_mosaic(write_png16(tmp_path / "0.png", mosaic)).packed()
    training, _ = pair_to_tensors(pack(mosaic), np.zeros((3, 8, 8), np.uint8))
    np.testing.assert_array_equal(packed, training.numpy())
    assert packed.max() == np.float32(1023) / np.float32(1020)


def test_png_mosaic_crops_odd_edges(tmp_path, rng, write_png16):
    mosaic = rng.integers(0, 1024, (7, 9), dtype=np.uint16)
    image = read_png_mosaic(write_png16(tmp_path / "odd.png", mosaic))
    np.testing.assert_array_equal(image.mosaic, mosaic[:6, :8])


def test_png_8bit_mosaic_is_a_data_error(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "eight.png")
    with pytest.raises(DataError, match=r"eight\.png.*8-bit"):
        read_png_mosaic(tmp_path / "eight.png")


def test_png_rgb_is_a_data_error(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(DataError, match=r"rgb\.png.*3-channel"):
        read_png_mosaic(tmp_path / "rgb.png")


def test_truncated_png_is_a_data_error(tmp_path, rng, write_png16):
    path = write_png16(tmp_path / "cut.png", rng.integers(0, 1024, (64, 64)))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cut\.png.*truncated"):
        read_png_mosaic(path)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_png_mosaic(tmp_path / "nope.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(DataError, match=r"text\.png"):
        read_png_mosaic(tmp_path / "text.png")


# ---- headerless dumps -------------------------------------------------------------------------------


@pytest.mark.parametrize("endianness", ["little", "big"])
def test_headerless_round_trip(tmp_path, rng, endianness):
    mosaic = rng.integers(0, 1024, (6, 10), dtype=np.uint16)
    path = tmp_path / "frame.raw"
    mosaic.astype("<u2" if endianness == "little" else ">u2").tofile(path)
    image = read_headerless_raw(path, width=10, height=6, bit_depth=10, cfa="BGGR", endianness=endianness)
    np.testing.assert_array_equal(image.mosaic, mosaic)
    assert image.cfa is CFA.BGGR and image.white_level == 1023 and image.black_level == 0


def test_headerless_8bit(tmp_path, rng):
    mosaic = rng.integers(0, 256, (4, 6), dtype=np.uint8)
    mosaic.tofile(tmp_path / "frame.bin")
    image = read_raw(tmp_path / "frame.bin", width=6, height=4, bit_depth=8)
    np.testing.assert_array_equal(image.mosaic, mosaic)
    assert image.white_level == 255


def test_headerless_size_mismatch_names_expected_and_actual(tmp_path):
    (tmp_path / "short.raw").write_bytes(bytes(100))
    with pytest.raises(DataError, match=r"short\.raw: file is 100 bytes but 10x6 .* needs 120 bytes.*width"):
        read_headerless_raw(tmp_path / "short.raw", width=10, height=6, bit_depth=10)


def test_headerless_wrong_endianness_is_caught_by_range(tmp_path, rng):
    rng.integers(1, 1024, (4, 4), dtype=np.uint16).astype(">u2").tofile(tmp_path / "be.raw")
    with pytest.raises(DataError, match=r"exceed the 10-bit range.*endianness"):
        read_headerless_raw(tmp_path / "be.raw", width=4, height=4, bit_depth=10, endianness="little")


def test_read_raw_needs_geometry_for_headerless(tmp_path):
    (tmp_path / "x.raw").write_bytes(bytes(8))
    with pytest.raises(DataError, match=r"x\.raw.*width and height"):
        read_raw(tmp_path / "x.raw")
    with pytest.raises(DataError, match="do not apply"):
        read_raw(tmp_path / "x.dng", width=4)


def test_read_raw_dispatches_png(tmp_path, rng, write_png16):
    mosaic = rng.integers(0, 1024, (4, 4), dtype=np.uint16)
    image = read_raw(write_png16(tmp_path / "m.png", mosaic), cfa="GRBG", width=None)
    assert image.cfa is CFA.GRBG
    np.testing.assert_array_equal(image.mosaic, mosaic)


def test_rawimage_validates_shapes():
    with pytest.raises(ValueError, match="even"):
        RawImage(np.zeros((3, 4), np.uint16), CFA.RGGB)
    with pytest.raises(ValueError, match="black level map"):
        RawImage(np.zeros((4, 4), np.uint16), CFA.RGGB, black_level=np.zeros((2, 2)))


# ---- camera raws via rawpy (a minimal DNG written with tifffile: the ``write_dng`` fixture) --------------


@pytest.mark.parametrize("cfa", list(CFA))
def test_dng_metadata_comes_from_the_file(tmp_path, rng, cfa, write_dng):
    mosaic = rng.integers(100, 1000, (33, 47), dtype=np.uint16)  # odd: the reader crops to 32x46
    black = (60, 64, 62, 66)
    image = read_camera_raw(write_dng(tmp_path / "t.dng", mosaic, cfa, black=black, xyz_to_cam=XYZ_TO_CAM))
    assert image.cfa is cfa
    np.testing.assert_array_equal(image.mosaic, mosaic[:32, :46])
    expected_black = np.tile(np.reshape(black, (2, 2)), (16, 23)).astype(np.float32)
    np.testing.assert_array_equal(image.black_level, expected_black)
    assert image.white_level == 1000
    np.testing.assert_allclose(image.wb_gains, [2.0, 1.0, 1 / 0.6], rtol=1e-5)  # 1 / AsShotNeutral
    np.testing.assert_allclose(image.xyz_to_cam, XYZ_TO_CAM, atol=1e-4)  # the file's ColorMatrix1 (one light)
    np.testing.assert_allclose(image.cam_to_srgb, cam_to_srgb(XYZ_TO_CAM, np.array([0.5, 1.0, 0.6])), atol=1e-4)
    np.testing.assert_allclose(image.cam_to_srgb @ np.ones(3), np.ones(3), atol=1e-9)  # balanced white -> white
    packed = image.packed()
    assert packed.shape == (4, 16, 23) and packed.min() >= 0 and packed.max() <= 1
    np.testing.assert_array_equal(packed, pack(normalize(mosaic[:32, :46], expected_black, 1000, clip=False), cfa))


def test_dng_equal_black_levels_give_a_scalar(tmp_path, rng, write_dng):
    mosaic = rng.integers(100, 1000, (32, 32), dtype=np.uint16)
    image = read_raw(write_dng(tmp_path / "t.dng", mosaic, CFA.RGGB, black=(64, 64, 64, 64)))
    assert np.ndim(image.black_level) == 0 and image.black_level == 64


def test_xtrans_is_a_clear_data_error(tmp_path, rng, write_dng):
    xtrans = (1, 1, 0, 1, 1, 2, 1, 1, 2, 1, 1, 0, 2, 0, 1, 0, 2, 1,
              1, 1, 2, 1, 1, 0, 1, 1, 0, 1, 1, 2, 0, 2, 1, 2, 0, 1)
    mosaic = rng.integers(0, 1000, (36, 48))
    path = write_dng(tmp_path / "xt.dng", mosaic, CFA.RGGB, pattern=xtrans, repeat=(6, 6))
    with pytest.raises(DataError, match=r"xt\.dng.*6x6.*X-Trans"):
        read_camera_raw(path)


def test_unreadable_camera_raw_is_a_data_error(tmp_path):
    (tmp_path / "fake.nef").write_bytes(b"not a raw file at all" * 10)
    with pytest.raises(DataError, match=r"fake\.nef: rawpy cannot read"):
        read_raw(tmp_path / "fake.nef")


class _FakeRaw:
    """Stands in for rawpy.RawPy: metadata LibRaw reports for a file with an XYZ matrix but no rgb_cam."""

    def __init__(self, raw_type, pattern=(3, 2, 1, 0)):
        self.raw_type = raw_type
        self.raw_pattern = np.array([pattern]).reshape(2, 2)  # colour indices into color_desc below
        self.color_desc = b"GBRG"  # an unusual order: 0 = G, 1 = B, 2 = R, 3 = G
        self.raw_colors_visible = np.tile(self.raw_pattern, (2, 3))
        self.raw_image_visible = np.arange(24, dtype=np.uint16).reshape(4, 6)
        self.black_level_per_channel = [10, 20, 30, 40]
        self.white_level = 4095
        self.camera_whitebalance = [1.0, 1.5, 2.5, 1.0]
        self.rgb_xyz_matrix = np.vstack([XYZ_TO_CAM[[1, 2, 0]], XYZ_TO_CAM[1]])  # rows in G, B, R, G order
        self.color_matrix = np.zeros((3, 4))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_camera_raw_metadata_mapping_with_fake_rawpy(tmp_path, monkeypatch):
    import rawpy

    monkeypatch.setattr(rawpy, "imread", lambda path: _FakeRaw(rawpy.RawType.Flat))
    (tmp_path / "x.cr2").write_bytes(b"x")
    image = read_camera_raw(tmp_path / "x.cr2")
    assert image.cfa is CFA.GRBG  # top-left colours 3, 2, 1, 0 -> G R B G
    np.testing.assert_array_equal(image.black_level[:2, :2], [[40, 30], [20, 10]])
    assert image.white_level == 4095
    np.testing.assert_allclose(image.wb_gains, [2.5 / 1.0, 1.0, 1.5 / 1.0])
    np.testing.assert_allclose(image.xyz_to_cam, XYZ_TO_CAM)  # reordered to R, G, B rows
    np.testing.assert_allclose(image.cam_to_srgb, cam_to_srgb(XYZ_TO_CAM, 1 / image.wb_gains))


def test_non_bayer_colour_order_is_a_data_error(tmp_path, monkeypatch):
    import rawpy

    monkeypatch.setattr(rawpy, "imread", lambda path: _FakeRaw(rawpy.RawType.Flat, pattern=(3, 2, 0, 1)))
    (tmp_path / "odd.cr2").write_bytes(b"x")
    with pytest.raises(DataError, match=r"odd\.cr2: colour filter 'GRGB'"):
        read_camera_raw(tmp_path / "odd.cr2")


def test_non_flat_raw_is_a_data_error(tmp_path, monkeypatch):
    import rawpy

    monkeypatch.setattr(rawpy, "imread", lambda path: _FakeRaw(rawpy.RawType.Stack))
    (tmp_path / "linear.dng").write_bytes(b"x")
    with pytest.raises(DataError, match="not a single-plane mosaic"):
        read_camera_raw(tmp_path / "linear.dng")


@pytest.mark.parametrize("method", ["mixed", "dng", "camera"])
def test_cam_to_srgb_keeps_white_white(method):
    neutral = np.array([0.45, 1.0, 0.7])
    np.testing.assert_allclose(cam_to_srgb(XYZ_TO_CAM, neutral, method=method) @ np.ones(3), np.ones(3), atol=1e-9)


# ---- the real frames in ../shared -------------------------------------------------------------------


def _greens_are_greens(packed: np.ndarray) -> None:
    """With the right phase the two green planes (1, 3) have the closest mean levels of any pair."""
    means = packed.reshape(4, -1).mean(axis=1)
    gaps = {(i, j): abs(means[i] - means[j]) for i in range(4) for j in range(i + 1, 4)}
    assert min(gaps, key=gaps.get) == (1, 3)


def test_real_headerless_frame(shared_file):
    path = shared_file("data", "real-raw", "fast-openisp-test-1920x1080-rggb-10bit.raw")
    image = read_raw(path, width=1920, height=1080, bit_depth=10, cfa="RGGB")
    assert image.mosaic.shape == (1080, 1920) and image.mosaic.max() <= 1020
    packed = image.packed()
    assert packed.shape == (4, 540, 960) and packed.dtype == np.float32
    assert 0 <= packed.min() and packed.max() <= 1 and packed.mean() > 0.01
    _greens_are_greens(packed)


def test_real_png_frame(shared_file):
    path = shared_file("data", "real-raw", "halide-bayer_small.png")
    image = read_png_mosaic(path, cfa="GRBG", white=1023)
    assert image.mosaic.shape == (344, 256) and image.mosaic.dtype == np.uint16
    packed = image.packed()
    assert packed.shape == (4, 172, 128) and 0 <= packed.min() and packed.max() > 1  # codes reach 1053
    np.testing.assert_array_equal(image.packed(clip=True), np.clip(packed, 0, 1))
    _greens_are_greens(packed)
