"""Unpaired data: disjoint photo sides on the embedded stream, photo and raw folders, bad folders refused
in one line before any training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from isplab.data.photos import RESERVED, UNPAIRED_RAW_PHOTOS, UNPAIRED_TARGET_PHOTOS
from isplab.data.unpaired import PhotoFolder, RawFolder, check_photo_split
from isplab.errors import DataError
from isplab.raw.readers import read_raw
from isplab.train.config import DataConfig, UnpairedConfig
from isplab.train.data import build_run_data


def one_line(excinfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text, text
    return text


def test_embedded_sides_never_share_a_photo_and_are_exact_per_step():
    data = build_run_data(DataConfig(patch=32, unpaired=UnpairedConfig()), seed=3)
    raws, photos = data.train.raws.stream, data.train.photos.stream
    raw_side = {p.name for p in raws.photos}
    target_side = {p.name for p in photos.photos}
    assert raw_side == set(UNPAIRED_RAW_PHOTOS) and target_side == set(UNPAIRED_TARGET_PHOTOS)
    assert not raw_side & target_side and not (raw_side | target_side) & set(RESERVED)
    _, _, raw_records = raws.sample(5, 4)
    _, _, photo_records = photos.sample(5, 4)
    assert {r["photo"] for r in raw_records} <= raw_side and {r["photo"] for r in photo_records} <= target_side
    a, b = data.train.batch(5, 4), data.train.batch(5, 4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (4, 4, 16, 16) and a[1].shape == (4, 3, 32, 32)
    assert data.val.description.startswith("embedded val photo(s) chelsea")


@pytest.mark.parametrize("raw, target, match", [
    (["coffee"], ["coffee", "astronaut"], "both raws and targets"),
    (["chelsea"], ["astronaut"], "must name training photos"),  # the val photo
    (["coffee"], ["motorcycle_right"], "must name training photos"),  # reserved
    ([], ["astronaut"], "none given"),
])
def test_photo_split_is_checked(raw, target, match):
    with pytest.raises(DataError, match=match) as exc:
        check_photo_split(tuple(raw), tuple(target))
    one_line(exc)


def write_photos(folder, sizes, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"{i}.jpg", quality=95)
    return folder


def test_photo_folder_crops_are_pieces_of_its_photos(tmp_path):
    folder = write_photos(tmp_path / "photos", [(40, 50), (48, 36)])
    photos = PhotoFolder(folder, patch=32, augment=False, seed=1)
    crops = photos.crops(7, 3)
    assert crops.shape == (3, 3, 32, 32) and torch.equal(crops, photos.crops(7, 3))
    images = [torch.from_numpy(im).float() / 255 for im in photos.images]
    for crop in crops:  # each crop occurs in one of the photos (independent search)
        found = any(torch.equal(crop, im[:, y:y + 32, x:x + 32]) for im in images
                    for y in range(im.shape[1] - 31) for x in range(im.shape[2] - 31))
        assert found


def test_raw_folder_reads_camera_raws_with_their_levels(tmp_path, write_dng):
    rng = np.random.default_rng(0)
    mosaic = rng.integers(64, 1000, (40, 48)).astype(np.uint16)
    (tmp_path / "raws").mkdir()
    write_dng(tmp_path / "raws" / "a.dng", mosaic, "RGGB", black=(64, 64, 64, 64), white=1000)
    raws = RawFolder(tmp_path / "raws", patch=32, augment=False, seed=0)
    crop = raws.crops(0, 2)
    packed = torch.from_numpy(read_raw(tmp_path / "raws" / "a.dng").packed(clip=False))
    assert crop.shape == (2, 4, 16, 16)
    for c in crop:
        assert any(torch.allclose(c, packed[:, y:y + 16, x:x + 16]) for y in range(5) for x in range(9))


def test_bad_folders_are_refused_in_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "0.jpg").write_bytes(b"not a jpeg")
    small = write_photos(tmp_path / "small", [(20, 20)])
    cases = [
        (lambda: PhotoFolder(tmp_path / "missing", 32), "photos folder does not exist"),
        (lambda: PhotoFolder(tmp_path / "empty", 32), "holds no jpg/jpeg/png files"),
        (lambda: PhotoFolder(tmp_path / "broken", 32), "cannot read this photo"),
        (lambda: PhotoFolder(small, 32), "smaller than the 32-pixel training crop"),
        (lambda: RawFolder(tmp_path / "empty", 32), "raw folder holds no"),
        (lambda: build_run_data(DataConfig(path=str(tmp_path / "empty"), unpaired=UnpairedConfig()), 0),
         "needs data.unpaired.photos"),
        (lambda: build_run_data(DataConfig(path=str(tmp_path / "empty"), patch=32,
                                           unpaired=UnpairedConfig(photos=str(small))), 0),
         "smaller than"),
    ]
    for make, match in cases:
        with pytest.raises(DataError, match=match) as exc:
            make()
        one_line(exc)


def test_a_raw_folder_needs_pairs_to_score_on(tmp_path, write_dng):
    (tmp_path / "raws").mkdir()
    write_dng(tmp_path / "raws" / "a.dng", np.full((40, 48), 500, np.uint16), "RGGB", white=1000)
    photos = write_photos(tmp_path / "photos", [(40, 40)])
    with pytest.raises(DataError, match="unpaired.val") as exc:
        build_run_data(DataConfig(path=str(tmp_path / "raws"), patch=32,
                                  unpaired=UnpairedConfig(photos=str(photos))), 0)
    one_line(exc)
