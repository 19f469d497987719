"""Training batches from a dataset folder, as a step-indexed stream like the embedded data's.

:class:`FolderStream` serves ``batch(step, size)``: the pairs of each epoch in a seeded random order, each
randomly cropped (``patch``) and flipped/rotated (CFA-consistent). Batch ``step`` is a pure function of
``(seed, step)`` whatever the number of processes or workers, so resumed runs are exact.

Each pair is decoded once and kept in memory as packed uint16 codes + uint8 RGB (a third of float32) when
the whole split fits ``cache_gb``; otherwise pairs are decoded per batch. A packed store
(:mod:`isplab.data.store`) needs no decoding: its pairs are memory-mapped views. Crops and flips are views
of the integer data; each batch is copied and converted to float once.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor

from isplab.data.datasets import PairedRawDataset, pair_to_tensors, warn_bit_depth
from isplab.errors import DataError
from isplab.raw.bayer import DIHEDRAL, augment_views


class FolderStream:
    """Endless augmented batches of a :class:`~isplab.data.PairedRawDataset`.

    Args:
        dataset: the training pairs.
        patch: square crop side in target pixels (even); ``None`` trains on whole pairs.
        augment: random dihedral transform (flips / 90-degree rotations) per pair.
        seed: batch ``step`` depends only on ``(seed, step)``; ``salt`` separates independent streams of
            the same seed (e.g. the domain objective's target-camera batches).
        cache_gb: keep decoded pairs in memory when the split fits this bound.
    Codes beyond the dataset's white level's bit depth (e.g. 12-bit data read as 10-bit) warn once
    (one ``warning:`` line on stderr).
    """

    def __init__(self, dataset: PairedRawDataset, patch: int | None = None, augment: bool = True, seed: int = 0,
                 salt: int = 0, cache_gb: float = 4.0):
        self.dataset, self.augment, self.seed, self.salt = dataset, augment, seed, salt
        self.white_level, self._warned = dataset.white_level, False
        h, w = dataset.size
        if patch is not None and (patch % 2 or patch <= 0 or patch > min(h, w)):
            raise DataError(dataset.folder, f"patch {patch} does not fit its {h}x{w} pairs",
                            f"use an even data.patch up to {min(h, w)}, or none for whole pairs")
        self.patch = patch
        per_pair = 4 * (h // 2) * (w // 2) * 2 + 3 * h * w
        self.cached = len(dataset) * per_pair <= cache_gb * 2**30
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._epochs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        largest = getattr(dataset, "max_code", None)  # a packed store's index knows it: no pair is read for it
        if largest is not None:
            self._warned = True
            warn_bit_depth(np.array(largest), dataset.folder, self.white_level)

    def __len__(self) -> int:
        return len(self.dataset)

    def _load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        codes, rgb = self.dataset.load_codes(index)
        if not self._warned:
            self._warned = warn_bit_depth(codes, self.dataset.files(index)[0], self.white_level)
        return codes, rgb

    def _pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.cached:
            return self._load(index)
        if index not in self._cache:
            self._cache[index] = self._load(index)
        return self._cache[index]

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Order, transform and crop offset (in [0, 1)) of every pair in ``epoch``."""
        if epoch not in self._epochs:
            rng = np.random.default_rng([self.seed, self.salt, epoch])
            n = len(self.dataset)
            # A transpose would change the shape of non-square pairs: then only flips.
            square = self.patch is not None or self.dataset.size[0] == self.dataset.size[1]
            kinds = len(DIHEDRAL) if square else len(DIHEDRAL) // 2
            transforms = rng.integers(0, kinds, n) if self.augment else np.zeros(n, dtype=int)
            self._epochs = {epoch: (rng.permutation(n), transforms, rng.random((n, 2)))}
        return self._epochs[epoch]

    def batch(self, step: int, size: int) -> tuple[Tensor, Tensor]:
        """Batch ``step``: raw ``(size, 4, p/2, p/2)`` (codes / 1020, unclipped) and target ``(size, 3, p, p)``."""
        return self.to_float(*self.batch_codes(step, size))

    def to_float(self, codes: np.ndarray, rgb: np.ndarray) -> tuple[Tensor, Tensor]:
        """:meth:`batch_codes` -> :meth:`batch`."""
        return pair_to_tensors(codes, rgb, self.white_level)

    def batch_codes(self, step: int, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Batch ``step`` as integers: packed codes ``(size, 4, p/2, p/2)`` uint16 and RGB ``(size, 3, p, p)``
        uint8, a third of the float32 bytes (what DataLoader workers send back)."""
        codes, rgbs = [], []
        for flat in range(step * size, (step + 1) * size):
            epoch, pos = divmod(flat, len(self.dataset))
            order, transforms, offsets = self._epoch(epoch)
            index = int(order[pos])
            packed, rgb = self._pair(index)
            if self.patch:
                side = self.patch // 2  # packed pixels: the target offset stays on the CFA grid
                y = int(offsets[index, 0] * (packed.shape[1] - side + 1))
                x = int(offsets[index, 1] * (packed.shape[2] - side + 1))
                packed = packed[:, y:y + side, x:x + side]
                rgb = rgb[:, 2 * y:2 * (y + side), 2 * x:2 * (x + side)]
            # Crop and transform the integer data as views; np.stack copies each pair once.
            packed, rgb = augment_views(packed, rgb, int(transforms[index]))
            codes.append(packed)
            rgbs.append(rgb)
        return np.stack(codes), np.stack(rgbs)
