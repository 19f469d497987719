"""Which pairs train, which validate, which test: never the same photo in two roles.

* **Embedded data**: the photo split of :mod:`isplab.data.photos`; validation and test images are fixed
  renderings of the val/test photos (:func:`isplab.data.stream.evaluation_set`).
* **A dataset folder** (``--data DIR``), in this order:

  1. split folders: ``train/`` trains, ``val/`` (or ``valid/``, ``validation/``) validates, ``test/`` tests;
  2. no validation folder, but a synthetic dataset's ``camera.json`` names each pair's photo: whole photos
     are held out (the last photos in pair order until ``val_fraction`` of the pairs);
  3. otherwise the **last** ``val_fraction`` of the pairs in numeric order are held out as one block. The
     official archives number the patches of a photo consecutively, so a block shares at most one photo
     with training (random pairs would share nearly every photo).

  A flat folder named like a split (``DIR/test``, ``DIR/val``) *is* that split: ``isplab eval --data
  DIR/test`` scores all of it, the same pairs as ``--data DIR --split test``.

A packed store (:mod:`isplab.data.store`) keeps its source's split folders, pair order and ``camera.json``,
so the same rules give the same pairs from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Subset

from isplab.data.camera import CameraFamily
from isplab.data.datasets import PairedRawDataset, warn_bit_depth
from isplab.data.store import StoredPairs, dataset_splits, open_pairs, read_index
from isplab.data.stream import evaluation_set
from isplab.data.synth import read_info
from isplab.errors import DataError
from isplab.raw.bayer import MAI_WHITE_LEVEL

VAL_NAMES = ("val", "valid", "validation")
TEST_NAMES = ("test",)
EVAL_SPLITS = ("val", "test", "all")

#: The pairs of a dataset folder or of a packed store (same interface).
Pairs = PairedRawDataset | StoredPairs


@dataclass
class FolderSplits:
    """A dataset folder divided into roles; ``val_rule`` says how validation was chosen."""

    train: Pairs
    val: Pairs
    test: Pairs | None
    val_rule: str

    def validate(self) -> None:
        """Check every pair's headers (pairing, bit depth, size) before any work; raises the first problem."""
        for part in (self.train, self.val, self.test):
            if part is not None:
                part.validate()


def _held_out(dataset: Pairs, val_fraction: float) -> tuple[list[int], list[int], str]:
    """``(train positions, val positions, rule)`` for a folder without a validation split."""
    n = len(dataset.raw_files)
    if not 0 < val_fraction < 1:
        raise DataError(dataset.folder, f"val_fraction {val_fraction} leaves no validation pairs",
                        "use data.val_fraction in (0, 1), or add a val/ folder")
    n_val = min(n - 1, max(1, math.ceil(n * val_fraction)))
    if n < 2:
        raise DataError(dataset.folder, "holds a single pair: nothing to validate on",
                        "add pairs, or a val/ folder")
    info = read_info(dataset.folder)
    photos = _pair_photos(info, dataset) if info else None
    if photos:
        order = list(dict.fromkeys(photos))  # photos in pair order
        held: list[str] = []
        while order and sum(p in held for p in photos) < n_val and len(order) > 1:
            held.append(order.pop())
        val = [i for i, p in enumerate(photos) if p in held]
        train = [i for i, p in enumerate(photos) if p not in held]
        return train, val, f"held-out photos {', '.join(held)} ({len(val)} pairs; camera.json)"
    return (list(range(n - n_val)), list(range(n - n_val, n)),
            f"last {n_val} of {n} pairs held out as one block (consecutive patches share photos)")


def _pair_photos(info: dict, dataset: Pairs) -> list[str] | None:
    """The source photo of each pair (in ``dataset.raw_files`` order), from a synthetic ``camera.json``."""
    wanted = dataset.split or "train"  # a flat synthetic folder holds training photos only
    by_index = {p.get("index"): p.get("photo") for p in info.get("pairs", []) if p.get("split") == wanted}
    photos = [by_index.get(int(f.stem)) if f.stem.isdigit() else None for f in dataset.raw_files]
    return photos if all(photos) and len(set(photos)) > 1 else None


def folder_splits(root: str | Path, val_fraction: float = 0.1, white_level: float = MAI_WHITE_LEVEL
                  ) -> FolderSplits:
    """Divide a dataset folder (or packed store) into train / val / test (rules in the module docstring)."""
    splits = dataset_splits(root)

    def dataset(split: str | None = None, indices: list[int] | None = None) -> Pairs:
        return open_pairs(root, split=split, indices=indices, white_level=white_level)

    if "" in splits:
        train, val, rule = _held_out(dataset(), val_fraction)
        return FolderSplits(dataset(indices=train), dataset(indices=val), None, rule)
    if "train" not in splits:
        raise DataError(root, f"holds splits {', '.join(splits)} but no train/", "add a train/ folder to train on")
    test = next((dataset(s) for s in TEST_NAMES if s in splits), None)
    val_name = next((s for s in VAL_NAMES if s in splits), None)
    if val_name is not None:
        return FolderSplits(dataset("train"), dataset(val_name), test, f"the {val_name}/ folder")
    train, val, rule = _held_out(dataset("train"), val_fraction)
    return FolderSplits(dataset("train", train), dataset("train", val), test, f"train/: {rule}")


# ---- what gets scored ----------------------------------------------------------------------------------


@dataclass
class EvalSet:
    """Images to score, never trained on: :meth:`batches` yields ``(raw, target)`` of equal-size images.

    ``description`` says what was scored (it goes on the leaderboard and into result JSON).
    """

    split: str
    description: str
    count: int
    _batches: Callable[[int], Iterator[tuple[Tensor, Tensor]]]

    def batches(self, batch_size: int = 8) -> Iterator[tuple[Tensor, Tensor]]:
        return self._batches(batch_size)

    def first(self) -> tuple[Tensor, Tensor]:
        """The first image ``(4, h, w)``, ``(3, H, W)`` (for visual crops)."""
        raw, target = next(self.batches(1))
        return raw[0], target[0]

    def centre_crop(self, size: int | None) -> EvalSet:
        """The same images centre-cropped to ``size`` target pixels (even); ``None`` or larger: unchanged.

        For models that cannot take whole images (quadratic self-attention)."""
        if size is None:
            return self
        if size % 2 or size <= 0:
            raise DataError(None, f"val_crop {size} is not a positive even size", "use an even data.val_crop")

        def batches(batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
            for raw, target in self.batches(batch_size):
                h, w = target.shape[-2:]
                y, x = max(0, (h - size) // 4) * 2, max(0, (w - size) // 4) * 2  # even: keeps the CFA phase
                yield (raw[..., y // 2:(y + size) // 2, x // 2:(x + size) // 2],
                       target[..., y:y + size, x:x + size])

        return EvalSet(self.split, f"{self.description}, centre {size}x{size} crops", self.count, batches)

    def map_raw(self, fn: Callable[[Tensor], Tensor], what: str) -> EvalSet:
        """The same images with each raw batch passed through ``fn`` (e.g. the camera adapter); ``what``
        says so in the description."""

        def batches(batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
            for raw, target in self.batches(batch_size):
                yield fn(raw), target

        return EvalSet(self.split, f"{self.description}, {what}", self.count, batches)

    @classmethod
    def embedded(cls, split: str, camera: CameraFamily | None = None, cameras: int = 8, seed: int = 0
                 ) -> EvalSet:
        """The embedded val/test photos, each whole under ``cameras`` cameras of the family."""
        if split not in ("val", "test"):
            raise DataError(None, f"the embedded data has no split {split!r}", "use --split val or --split test")
        groups = evaluation_set(split, camera, cameras, seed)

        def batches(batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
            for _, raw, target in groups:
                for start in range(0, len(raw), batch_size):
                    yield raw[start:start + batch_size], target[start:start + batch_size]

        names = ", ".join(name for name, _, _ in groups)
        size = "x".join(str(s) for s in groups[0][2].shape[-2:])
        return cls(split, f"embedded {split} photo(s) {names} ({size}) x {cameras} cameras",
                   sum(len(g[1]) for g in groups), batches)

    @classmethod
    def folder(cls, dataset: Pairs, split: str, rule: str | None = None, limit: int | None = None
               ) -> EvalSet:
        """Pairs of a folder dataset; ``limit`` keeps that many, evenly spaced (cheap training validation)."""
        items: torch.utils.data.Dataset = dataset
        if limit is not None and len(dataset) > limit:
            step = len(dataset) / limit
            items = Subset(dataset, [int(i * step) for i in range(limit)])

        def batches(batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
            yield from DataLoader(items, batch_size=batch_size, shuffle=False)

        where = dataset.folder if rule is None else f"{dataset.folder} ({rule})"
        kept = f"{len(items)} of {len(dataset)}" if len(items) != len(dataset) else f"{len(dataset)}"
        return cls(split, f"{where}: {kept} pairs", len(items), batches)


def folder_eval_set(root: str | Path, split: str = "val", val_fraction: float = 0.1,
                    white_level: float = MAI_WHITE_LEVEL) -> EvalSet:
    """The ``val``, ``test`` or ``all`` pairs of a dataset folder, by the rules of the module docstring; every
    pair's headers are checked before any is scored (:func:`checked`)."""
    if split not in EVAL_SPLITS:
        raise DataError(root, f"unknown split {split!r}", f"use --split {' | '.join(EVAL_SPLITS)}")
    root = Path(root)
    splits = dataset_splits(root)
    if split == "all":
        parts = [checked(open_pairs(root, split=s or None, white_level=white_level)) for s in splits]
        datasets = torch.utils.data.ConcatDataset(parts)

        def batches(batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
            for part in parts:  # one loader per split: sizes may differ between splits
                yield from DataLoader(part, batch_size=batch_size, shuffle=False)

        return EvalSet("all", f"{root}: all {len(datasets)} pairs (every split, training pairs included)",
                       len(datasets), batches)
    names = VAL_NAMES if split == "val" else TEST_NAMES
    index = read_index(root)
    folder_name = Path(index["source"]).name if index else root.name  # a store of DIR/test is a test split too
    if "" in splits and folder_name.lower() in names:
        whole = checked(open_pairs(root, white_level=white_level))
        return EvalSet.folder(whole, split, f"a {folder_name}/ folder: all of it")
    if "" not in splits:
        name = next((s for s in names if s in splits), None)
        if name is not None:
            return EvalSet.folder(checked(open_pairs(root, split=name, white_level=white_level)), split)
    if split == "test":
        found = ", ".join(s for s in splits if s) or "none (a flat folder)"
        raise DataError(root, f"has no test split (splits: {found})",
                        "add a test/ folder, point --data at the test folder itself, or use --split val")
    parts = folder_splits(root, val_fraction, white_level)
    return EvalSet.folder(checked(parts.val), "val", parts.val_rule)


def checked(dataset: Pairs) -> Pairs:
    """``dataset`` after the header check of every pair (pairing, orphan targets, sizes; raises the first
    problem) and the bit-depth check of its first pair (a ``warning:`` line)."""
    dataset.validate()
    raw_path, _ = dataset.files(0)
    warn_bit_depth(dataset.load_codes(0)[0], raw_path, dataset.white_level)
    return dataset
