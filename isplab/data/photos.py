"""The colour photographs the embedded default data is made from, and their photo-disjoint split.

Every suitable colour photograph that ships inside isplab's dependencies is listed here, each assigned to
exactly one split, so training, validation and test never share a photo:

* ``train``: astronaut, coffee, rocket, immunohistochemistry (a stained-tissue micrograph: saturated
  browns and blues), hubble_deep_field (faint colour points on black: teaches clean shadows);
* ``val`` (checkpoint selection, training curves): chelsea;
* ``test`` (the challenge leaderboard, ``isplab eval --split test``): motorcycle_left.

``motorcycle_left`` is the left view of the stereo pair whose right view is reserved for external
evaluation, so it is kept out of training as well: the test split is as close as isplab gets to the external
photo without seeing it.

Not used: scikit-image's ``color`` (a synthetic colour wheel), ``phantom``/``logo``/``chessboard_RGB``
(graphics) and its greyscale images; matplotlib (not a dependency) ships ``grace_hopper`` (reserved) and a
128x128 clip-art icon. **Reserved for external evaluation and never loaded by isplab:**
:data:`RESERVED`. Photos are read straight from scikit-image's package data, no download.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
from PIL import Image

from isplab.errors import DataError

#: Photos reserved for external evaluation: never used for training, validation or tests.
RESERVED = ("motorcycle_right", "retina", "grace_hopper")

SPLITS = ("train", "val", "test")

#: Unpaired training on the embedded data: raws are made from these training photos, RGB targets drawn from
#: the others, never the same photo. The two sets have close average colours (as a large raw collection and a
#: large photo collection would), so the split measures the method rather than a colour mismatch of 5 photos.
UNPAIRED_RAW_PHOTOS = ("coffee", "rocket", "immunohistochemistry")
UNPAIRED_TARGET_PHOTOS = ("astronaut", "hubble_deep_field")


@dataclass(frozen=True)
class Photo:
    """A bundled photograph: ``file`` inside the ``package`` data folder, its split and sampling weight."""

    name: str
    file: str
    split: str
    weight: float = 1.0
    package: str = "skimage.data"


PHOTOS: tuple[Photo, ...] = (
    Photo("astronaut", "astronaut.png", "train"),
    Photo("coffee", "coffee.png", "train"),
    Photo("rocket", "rocket.jpg", "train"),
    Photo("immunohistochemistry", "ihc.png", "train"),
    # Mostly black sky: drawn half as often so it does not crowd out daylight scenes.
    Photo("hubble_deep_field", "hubble_deep_field.jpg", "train", weight=0.5),
    Photo("chelsea", "chelsea.png", "val"),
    Photo("motorcycle_left", "motorcycle_left.png", "test"),
)


def photos_in(split: str) -> tuple[Photo, ...]:
    """The photos of one split (``train``, ``val`` or ``test``)."""
    if split not in SPLITS:
        raise DataError(None, f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    return tuple(p for p in PHOTOS if p.split == split)


@cache
def load_photo(name: str) -> np.ndarray:
    """The photo ``name`` as ``(H, W, 3)`` uint8 (cached; read-only)."""
    if any(name.startswith(reserved) for reserved in RESERVED):
        raise DataError(None, f"photo {name!r} is reserved for external evaluation", "pick another photo")
    photo = next((p for p in PHOTOS if p.name == name), None)
    if photo is None:
        raise DataError(None, f"unknown photo {name!r}", f"known: {', '.join(p.name for p in PHOTOS)}")
    path = resources.files(photo.package) / photo.file
    try:
        with Image.open(str(path)) as image:
            array = np.asarray(image.convert("RGB"))
    except OSError as exc:
        raise DataError(str(path), f"cannot read the bundled photo ({exc})",
                        f"reinstall {photo.package.split('.')[0]} (its wheel ships the photo)") from None
    array.setflags(write=False)
    return array


def split_record() -> dict[str, list[str]]:
    """``{split: [photo names]}``, written beside every synthesised dataset and run."""
    return {split: [p.name for p in photos_in(split)] for split in SPLITS}
