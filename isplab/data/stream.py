"""The embedded default data as an endless stream: fresh raw/RGB pairs drawn on the fly.

Every training batch is a set of random crops (photo, position, scale, flip/rotation) of the *training*
photos (:mod:`isplab.data.photos`), each unprocessed through a random member of a
:class:`~isplab.data.camera.CameraFamily`. Batch ``step`` is a pure function of ``(seed, step)``, so a
resumed run sees exactly the batches it would have seen, and no two steps repeat a pair.

Validation and test sets are fixed: each photo of the split, whole (centre-cropped to a multiple of 64
pixels so every registered model accepts it), rendered through ``n`` cameras of the family drawn from a
fixed seed. They never share a photo with training.

Tensors: raw ``(N, 4, h, w)`` float32 = sensor codes / 1020 (canonical packed order, not clipped, exactly
how :class:`~isplab.data.PairedRawDataset` reads the challenge datasets); target ``(N, 3, 2h, 2w)`` in [0, 1].

>>> stream = SyntheticStream(patch=64, seed=0)
>>> raw, rgb = stream.batch(step=0, size=2)
>>> tuple(raw.shape), tuple(rgb.shape)
((2, 4, 32, 32), (2, 3, 64, 64))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from isplab.colour import apply_matrix
from isplab.data.camera import CameraFamily, read_camera_file
from isplab.data.cards import colour_cards
from isplab.data.photos import load_photo, photos_in
from isplab.data.spectral import SpectralFamily
from isplab.errors import DataError
from isplab.raw.bayer import DIHEDRAL, augment_pair

#: A camera family: a ``render(srgb, rng) -> (raw, records)`` of :mod:`isplab.data.camera` or
#: :mod:`isplab.data.spectral`.
Family = CameraFamily | SpectralFamily


def camera_family(spec: dict[str, Any] | str | None, source: str = "camera") -> Family:
    """A camera family from a mapping (``kind: brooks`` (default) or ``kind: spectral``, then the family's
    fields), a YAML/JSON file of one, or ``None`` (the default :class:`CameraFamily`)."""
    if spec is None:
        return CameraFamily()
    if isinstance(spec, str):
        return camera_family(read_camera_file(spec), spec)
    if isinstance(spec, dict) and isinstance(spec.get("camera"), dict) and "format" in spec:
        spec = spec["camera"]  # a synthetic dataset's camera.json
    if isinstance(spec, dict) and spec.get("kind", "brooks") == "spectral":
        return SpectralFamily.from_dict(spec, source)
    if isinstance(spec, dict) and spec.get("kind", "brooks") != "brooks":
        raise DataError(source, f"unknown camera family kind {spec['kind']!r}", "use kind: brooks or kind: spectral")
    return CameraFamily.from_dict(spec, source)

#: Whole-photo evaluation images are cropped to multiples of this (target pixels): 32 packed pixels
#: satisfy every registered model's ``input_multiple``.
EVAL_MULTIPLE = 64

#: Salt of the evaluation sets' camera draws, so they never coincide with a training step's.
_EVAL_SALT = 0x45564C


#: sRGB -> YIQ (NTSC): luma plus two chroma axes; hue is the angle in the (I, Q) plane.
_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def hue_saturation_matrix(angle: np.ndarray, saturation: np.ndarray) -> Tensor:
    """Per-image ``(n, 3, 3)`` matrices on sRGB values: rotate the hue by ``angle`` (radians) and scale
    the chroma by ``saturation`` around the luma axis (YIQ), leaving greys and luma unchanged."""
    cos, sin = np.cos(angle) * saturation, np.sin(angle) * saturation
    yiq = np.zeros((len(angle), 3, 3))
    yiq[:, 0, 0] = 1
    yiq[:, 1, 1], yiq[:, 1, 2], yiq[:, 2, 1], yiq[:, 2, 2] = cos, -sin, sin, cos
    return torch.from_numpy(np.linalg.inv(_RGB_TO_YIQ) @ yiq @ _RGB_TO_YIQ).float()


def _photo_tensor(name: str) -> Tensor:
    return torch.tensor(load_photo(name)).permute(2, 0, 1).contiguous()  # uint8 (3, H, W)


@dataclass
class SyntheticStream:
    """Endless random pairs from the training photos (see the module docstring).

    Args:
        camera: the camera family (default: :class:`CameraFamily`'s Brooks-style phone camera; or
            :class:`~isplab.data.spectral.SpectralFamily`).
        patch: target side of the training crops (even).
        scale: a crop covers ``patch / scale`` source pixels, ``scale`` uniform in this range (clamped so
            the crop fits the photo), so scenes appear at several sizes; < 1 downsamples (antialiased).
        augment: random flip / 90-degree rotation (CFA-consistent, applied to the sRGB crop before
            unprocessing, so the raw is always a true RGGB capture of the transformed scene).
        recolour: probability that a crop's colours are changed (hue rotated uniformly, saturation scaled
            by ``saturation``) before unprocessing. A handful of photos covers few hues (the training set
            has orange but hardly any saturated red, green or blue); recoloured crops teach the colour
            mapping over the whole gamut, so an unseen photo's red stays red.
        saturation: range of the saturation factor of recoloured crops.
        cards: probability that a sample is a colour card instead of a photo crop (:mod:`isplab.data.cards`:
            flat patches of random colours, for exact colour on flat areas).
        seed: the stream's seed; batch ``step`` depends only on ``(seed, step)``.
        split: photos to draw from (``train`` for training).
        only: only these photos of ``split`` (unpaired data draws raws and targets from disjoint sets).
    """

    camera: Family | None = None
    patch: int = 128
    scale: tuple[float, float] = (0.5, 1.0)
    augment: bool = True
    recolour: float = 0.5
    saturation: tuple[float, float] = (0.7, 1.4)
    cards: float = 0.0
    seed: int = 0
    split: str = "train"
    only: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        self.camera = self.camera or CameraFamily()
        if self.patch % 2 or self.patch < 2:
            raise DataError(None, f"patch {self.patch} is not a positive even size", "use an even patch size")
        low, high = self.scale
        if not 0 < low <= high <= 1:
            raise DataError(None, f"scale range {self.scale} must satisfy 0 < low <= high <= 1",
                            "crops are never upsampled: use scales up to 1")
        chosen = photos_in(self.split)
        if self.only is not None:
            unknown = sorted(set(self.only) - {p.name for p in chosen})
            if unknown or not self.only:
                raise DataError(None, f"photos {list(self.only)} are not {self.split} photos ({', '.join(unknown)})",
                                f"choose from {', '.join(p.name for p in chosen)}")
            chosen = tuple(p for p in chosen if p.name in self.only)
        self.photos = chosen
        weights = np.array([p.weight for p in self.photos])
        self._weights = weights / weights.sum()
        self._images = [_photo_tensor(p.name) for p in self.photos]
        self._max_side = min(min(im.shape[1:]) for im in self._images)
        if self._max_side < self.patch:
            raise DataError(None, f"patch {self.patch} is larger than the smallest {self.split} photo",
                            f"use a patch up to {self._max_side // 2 * 2}")

    def _crops(self, size: int, rng: np.random.Generator) -> tuple[Tensor, list[dict[str, Any]]]:
        """``size`` random ``(3, patch, patch)`` float crops in [0, 1] and where each came from.

        One scale per batch, so the whole batch is resampled by a single (antialiased bicubic) call.
        """
        scale = rng.uniform(*self.scale)
        crops, records = [], []
        for _ in range(size):
            index = int(rng.choice(len(self._images), p=self._weights))
            image = self._images[index]
            h, w = image.shape[1:]
            side = min(int(round(self.patch / scale)), self._max_side)
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crops.append(image[:, y:y + side, x:x + side])
            records.append({"photo": self.photos[index].name, "box": [y, x, side]})
        batch = torch.stack(crops).float() / 255
        if batch.shape[-1] != self.patch:
            batch = F.interpolate(batch, size=(self.patch, self.patch), mode="bicubic", antialias=True,
                                  align_corners=False).clamp(0, 1)
        if self.recolour:
            batch = self._recolour(batch, rng, records)
        if self.cards:
            chosen = np.flatnonzero(rng.random(size) < self.cards)
            if chosen.size:
                batch[chosen] = colour_cards(len(chosen), self.patch, rng)
                for i in chosen:
                    records[i] = {"photo": "colour card"}
        for i, record in enumerate(records):
            record["transform"] = int(rng.integers(len(DIHEDRAL))) if self.augment else 0
            if record["transform"]:
                # The target is transformed before the raw is made, so every transform keeps the CFA.
                batch[i] = augment_pair(batch.new_zeros(4, 1, 1), batch[i], record["transform"])[1]
        return batch, records

    def _recolour(self, batch: Tensor, rng: np.random.Generator, records: list[dict[str, Any]]) -> Tensor:
        n = len(batch)
        chosen = rng.random(n) < self.recolour
        angle = np.where(chosen, rng.uniform(-np.pi, np.pi, n), 0.0)
        sat = np.where(chosen, rng.uniform(*self.saturation, n), 1.0)
        for record, a, s in zip(records, angle, sat, strict=True):
            record["recolour"] = [round(float(np.degrees(a)), 2), round(float(s), 4)]
        return apply_matrix(batch, hue_saturation_matrix(angle, sat)).clamp(0, 1)

    def sample(self, step: int, size: int) -> tuple[Tensor, Tensor, list[dict[str, Any]]]:
        """:meth:`batch` plus one record per pair (photo, crop box, transform, camera parameters)."""
        rng = np.random.default_rng([self.seed, step])
        target, records = self._crops(size, rng)
        raw, cameras = self.camera.render(target, rng)
        return raw, target, [{**r, "camera": c} for r, c in zip(records, cameras, strict=True)]

    def batch(self, step: int, size: int) -> tuple[Tensor, Tensor]:
        """Training batch ``step``: raw ``(size, 4, patch/2, patch/2)`` and target ``(size, 3, patch, patch)``."""
        raw, target, _ = self.sample(step, size)
        return raw, target


def evaluation_set(split: str, camera: Family | None = None, cameras: int = 8, seed: int = 0
                   ) -> list[tuple[str, Tensor, Tensor]]:
    """Fixed validation/test images: ``[(photo, raw (cameras, 4, h, w), target (cameras, 3, 2h, 2w))]``.

    Each photo of ``split`` whole (centre-cropped to a multiple of :data:`EVAL_MULTIPLE`), rendered through
    ``cameras`` cameras drawn from ``camera`` with ``seed``.
    """
    camera = camera or CameraFamily()
    out = []
    for index, photo in enumerate(photos_in(split)):
        image = _photo_tensor(photo.name)
        h, w = (s // EVAL_MULTIPLE * EVAL_MULTIPLE for s in image.shape[1:])
        top, left = (image.shape[1] - h) // 2, (image.shape[2] - w) // 2
        target = (image[:, top:top + h, left:left + w].float() / 255).expand(cameras, 3, h, w).contiguous()
        raw, _ = camera.render(target, np.random.default_rng([seed, _EVAL_SALT, index]))
        out.append((photo.name, raw, target))
    return out
