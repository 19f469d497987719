"""Unpaired training data: raws of the camera from one set of photos, good RGB photos of *other* scenes.

:class:`UnpairedStream` serves ``batch(step, size) -> (raw, rgb)`` like the paired streams, but ``rgb[i]``
is not the rendering of ``raw[i]``: it is a crop of a target photo, drawn independently. Sources:

* **raws**: the embedded stream restricted to some training photos (:func:`embedded_unpaired`), the raws
  of a paired dataset folder or store (its RGB never looked at), or a folder of raw files (camera raws
  through rawpy, 16-bit PNG mosaics; :class:`RawFolder`), each normalised to the canonical packed layout;
* **photos**: the embedded stream's RGB of the other training photos, or any folder of JPEG/PNG photos
  (:class:`PhotoFolder`).

Every batch is a pure function of ``(seed, step)`` (exact resume). Folders are validated when opened:
a bad folder or file is one :class:`~isplab.errors.DataError` line before any training.
:class:`FixedPairs` holds the few aligned pairs of a semi-supervised run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from isplab.data.photos import photos_in
from isplab.errors import DataError
from isplab.raw.bayer import DIHEDRAL, augment_pair

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")

#: Seed salts of the independent streams (targets, fixed pairs) of one run.
TARGET_SALT, PAIRS_SALT = 0x7467, 0x7061


class Crops(Protocol):
    def crops(self, step: int, size: int) -> Tensor: ...


def _augment(images: Tensor, rng: np.random.Generator, packed: bool) -> Tensor:
    """A random dihedral transform per image (packed raws: CFA-consistent, :func:`augment_pair`)."""
    out = []
    for image in images:
        k = int(rng.integers(len(DIHEDRAL)))
        pair = (image, image.new_zeros(3, 2, 2)) if packed else (image.new_zeros(4, 1, 1), image)
        out.append(augment_pair(*pair, k)[0 if packed else 1])
    return torch.stack(out)


def _random_crops(images: list[np.ndarray], side: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` random ``side x side`` crops ``(size, C, side, side)`` of ``(C, H, W)`` arrays."""
    out = []
    for _ in range(size):
        image = images[int(rng.integers(len(images)))]
        y, x = int(rng.integers(image.shape[1] - side + 1)), int(rng.integers(image.shape[2] - side + 1))
        out.append(image[:, y:y + side, x:x + side])
    return np.stack(out)


class PhotoFolder:
    """RGB targets from any folder of JPEG/PNG photos: random ``patch`` crops, flips/rotations.

    Every photo is opened when the folder is (decoded, kept as uint8): a file that is not a readable
    image, or smaller than ``patch``, stops the run with one line naming it."""

    def __init__(self, folder: str | Path, patch: int, augment: bool = True, seed: int = 0):
        self.folder, self.patch, self.augment, self.seed = Path(folder), patch, augment, seed
        files = _listed(self.folder, PHOTO_SUFFIXES, "photos folder", "put the target photos (JPEG or PNG) there")
        self.images = [self._load(path) for path in files]

    def _load(self, path: Path) -> np.ndarray:
        try:
            with Image.open(path) as image:
                array = np.asarray(image.convert("RGB"))
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(path, f"cannot read this photo ({exc})", "re-export it as JPEG or PNG, or remove it"
                            ) from None
        if min(array.shape[:2]) < self.patch:
            raise DataError(path, f"photo is {array.shape[1]}x{array.shape[0]}, smaller than the {self.patch}-pixel "
                            "training crop", "remove it or lower data.patch")
        return np.ascontiguousarray(array.transpose(2, 0, 1))

    def crops(self, step: int, size: int) -> Tensor:
        rng = np.random.default_rng([self.seed, TARGET_SALT, step])
        rgb = torch.from_numpy(_random_crops(self.images, self.patch, size, rng)).float() / 255
        return _augment(rgb, rng, packed=False) if self.augment else rgb


class RawFolder:
    """Packed raws from a folder of raw files (camera raws through rawpy, 16-bit PNG mosaics at the MAI
    levels): each read once (levels and CFA from its metadata, canonical packed order, (raw - black) /
    (white - black)), random ``patch`` crops (target pixels), CFA-consistent flips/rotations."""

    def __init__(self, folder: str | Path, patch: int, augment: bool = True, seed: int = 0):
        from isplab.develop.pipeline import RAW_SUFFIXES  # the suffixes `isplab develop` reads from a folder
        from isplab.raw.readers import HEADERLESS_SUFFIXES, read_raw

        self.folder, self.patch, self.augment, self.seed = Path(folder), patch, augment, seed
        suffixes = tuple(sorted(RAW_SUFFIXES - HEADERLESS_SUFFIXES))
        files = _listed(self.folder, suffixes, "raw folder",
                        "put the camera's raw files (DNG, NEF, CR2, ... or 16-bit PNG mosaics) there")
        self.images = []
        for path in files:
            packed = read_raw(path).packed(clip=False).astype(np.float32)
            if min(packed.shape[1:]) * 2 < patch:
                raise DataError(path, f"raw is smaller than the {patch}-pixel training crop",
                                "remove it or lower data.patch")
            self.images.append(packed)

    def crops(self, step: int, size: int) -> Tensor:
        rng = np.random.default_rng([self.seed, step])
        raw = torch.from_numpy(_random_crops(self.images, self.patch // 2, size, rng))
        return _augment(raw, rng, packed=True) if self.augment else raw


class PairedRaws:
    """The raws of a paired dataset folder or store (its targets are never looked at)."""

    def __init__(self, stream: object):
        self.stream = stream

    def crops(self, step: int, size: int) -> Tensor:
        return self.stream.batch(step, size)[0]  # type: ignore[attr-defined]


class EmbeddedSide:
    """One side of the embedded unpaired data: the raws (``raw=True``) or the RGB of a photo-restricted
    :class:`~isplab.data.SyntheticStream`."""

    def __init__(self, stream: object, raw: bool):
        self.stream, self.raw = stream, raw

    def crops(self, step: int, size: int) -> Tensor:
        raw, rgb = self.stream.batch(step, size)  # type: ignore[attr-defined]
        return raw if self.raw else rgb


class UnpairedStream:
    """``batch(step, size)``: ``size`` raws and ``size`` RGB photos of other scenes (see the module docstring)."""

    def __init__(self, raws: Crops, photos: Crops, description: str):
        self.raws, self.photos, self.description = raws, photos, description

    def batch(self, step: int, size: int) -> tuple[Tensor, Tensor]:
        return self.raws.crops(step, size), self.photos.crops(step, size)


def check_photo_split(raw_photos: tuple[str, ...], target_photos: tuple[str, ...]) -> None:
    """Raw and target photos: training photos, both sets non-empty and disjoint (never the same photo)."""
    train = {p.name for p in photos_in("train")}
    for what, names in (("raw_photos", raw_photos), ("target_photos", target_photos)):
        unknown = sorted(set(names) - train)
        if not names or unknown:
            raise DataError(None, f"data.unpaired.{what} {list(names)} must name training photos "
                            f"(unknown: {', '.join(unknown) or 'none given'})",
                            f"choose from {', '.join(sorted(train))}")
    shared = sorted(set(raw_photos) & set(target_photos))
    if shared:
        raise DataError(None, f"data.unpaired: photo(s) {', '.join(shared)} are both raws and targets",
                        "unpaired data never shows the same photo on both sides: make the lists disjoint")


class FixedPairs:
    """``count`` fixed aligned pairs (the few of a semi-supervised run), served augmented as ``batch(step, size)``."""

    def __init__(self, raw: Tensor, rgb: Tensor, seed: int = 0, augment: bool = True):
        self.raw, self.rgb, self.seed, self.augment = raw, rgb, seed, augment

    def __len__(self) -> int:
        return len(self.raw)

    def batch(self, step: int, size: int) -> tuple[Tensor, Tensor]:
        rng = np.random.default_rng([self.seed, PAIRS_SALT, step])
        index = rng.integers(len(self.raw), size=size)
        pairs = [(self.raw[i], self.rgb[i]) for i in index]
        if self.augment:
            pairs = [augment_pair(r, t, int(rng.integers(len(DIHEDRAL)))) for r, t in pairs]
        return torch.stack([r for r, _ in pairs]), torch.stack([t for _, t in pairs])


def _listed(folder: Path, suffixes: tuple[str, ...], what: str, fix: str) -> list[Path]:
    """The files of ``folder`` with one of ``suffixes`` (sorted); a missing or empty folder is one line."""
    if not folder.is_dir():
        reason = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataError(folder, f"{what} {reason}", "check the path")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not files:
        raise DataError(folder, f"{what} holds no {'/'.join(s.lstrip('.') for s in suffixes[:4])} files", fix)
    return files
