"""The bundled photos and their split (isplab.data.photos): disjoint, complete, reserved photos never read."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from isplab.data import photos
from isplab.data.photos import PHOTOS, RESERVED, SPLITS, load_photo, photos_in, split_record
from isplab.errors import DataError


def test_every_photo_has_exactly_one_split():
    names = [p.name for p in PHOTOS]
    assert len(names) == len(set(names))
    record = split_record()
    assert set(record) == set(SPLITS)
    seen = [name for split in SPLITS for name in record[split]]
    assert sorted(seen) == sorted(names)  # each photo in exactly one split
    assert all(record[split] for split in SPLITS)  # and no split is empty


def test_reserved_photos_are_not_listed_and_cannot_be_loaded():
    assert not {p.name for p in PHOTOS} & set(RESERVED)
    assert not {p.file.rsplit(".", 1)[0] for p in PHOTOS} & {"motorcycle_right", "retina", "grace_hopper"}
    for name in RESERVED:
        with pytest.raises(DataError, match="reserved"):
            load_photo(name)


def test_loading_every_split_never_opens_a_reserved_file(monkeypatch):
    opened = []
    real_open = Image.open

    def spy(fp, *args, **kwargs):
        opened.append(str(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(photos.Image, "open", spy)
    load_photo.cache_clear()
    try:
        for split in SPLITS:
            for photo in photos_in(split):
                image = load_photo(photo.name)
                assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
                assert not image.flags.writeable
    finally:
        load_photo.cache_clear()
    assert len(opened) == len(PHOTOS)
    assert not [f for f in opened if any(r in f for r in ("motorcycle_right", "retina", "grace_hopper"))]


def test_unknown_split_and_photo():
    with pytest.raises(DataError, match="unknown split"):
        photos_in("training")
    with pytest.raises(DataError, match="unknown photo"):
        load_photo("lena")
