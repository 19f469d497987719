"""A packed store: a dataset folder's pairs decoded once into memory-mappable arrays (``isplab data pack``).

Decoding two PNG/JPEG files per pair per step starves a GPU on sets the size of Zurich RAW-to-RGB (46,839
pairs of 448x448); a store is read instead (``--data STORE``, ``data.path: STORE``) with no decoding: a
training crop is a slice of a memory-mapped file, served from the page cache.

**Format** (``isplab-store/1``)::

    STORE/index.json                    the index (written last: a folder without it is no store)
    STORE/camera.json                   copied from a synthetic source (camera family, pair -> photo)
    STORE/shards/<split>-00000.raw.npy  packed sensor codes (n, 4, H/2, W/2) uint16, canonical B,Gr,R,Gb
    STORE/shards/<split>-00000.rgb.npy  targets (n, 3, H, W) uint8

``<split>`` is the source's split folder (``train``, ``val``, ``test``...) or ``pairs`` for a flat folder.
The index records, per split: layout, pair size, source file stems in numeric order (so
:mod:`isplab.data.splits` holds out exactly the pairs it would hold out of the folder), target suffix,
largest sensor code (the bit-depth check without reading pairs) and each shard's pair count and CRC-32.
Codes are stored as read, so the white level stays a reading option (``data.white_level``), as for folders.

Why ``.npy`` shards: NumPy's own format, so no new dependency; ``np.load(mmap_mode="r")`` maps a shard
with its shape and dtype from the header; a pair is a contiguous row (one sequential read), crops are
slices, and DataLoader workers share the page cache. Shards (~1 GB) keep files few and each write
resumable. LMDB (BasicSR) would add a dependency and store encoded or pickled bytes per key; HDF5 adds
h5py and its locking/fork caveats with workers; WebDataset/tar shards are for sequential streaming, not
the random access a seeded per-epoch order needs.

:class:`StoredPairs` reads a store split with the interface of :class:`~isplab.data.PairedRawDataset`, so
:class:`~isplab.data.sources.FolderStream` gives bit-identical batches from either; :func:`open_pairs` and
:func:`dataset_splits` pick the reader for a path. The writer is :mod:`isplab.data.pack`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from isplab.data.datasets import (
    LAYOUTS,
    DatasetSummary,
    Layout,
    PairedRawDataset,
    bit_depth_warning,
    find_splits,
    pair_to_tensors,
)
from isplab.errors import DataError, quote
from isplab.integrity import verify
from isplab.raw.bayer import MAI_WHITE_LEVEL

FORMAT = "isplab-store/1"
INDEX = "index.json"
#: The file an unfinished pack keeps in its ``.STORE.partial`` folder.
PLAN = "plan.json"
#: Shard name of a flat source folder's pairs.
FLAT = "pairs"


def read_index(root: str | Path) -> dict[str, Any] | None:
    """The index of the store at ``root``, or None if ``root`` is not a (finished) store."""
    try:
        index = json.loads((Path(root) / INDEX).read_text())
    except (OSError, ValueError):
        return None
    return index if isinstance(index, dict) and str(index.get("format", "")).startswith("isplab-store/") else None


def is_store(root: str | Path) -> bool:
    return read_index(root) is not None


def _index(root: Path) -> dict[str, Any]:
    index = read_index(root)
    if index is None:
        raise DataError(root, "is not a packed store (no index.json)", "run `isplab data pack DIR --out STORE`")
    if index["format"] != FORMAT:
        raise DataError(root / INDEX, f"store format {quote(index['format'])}; this isplab reads {FORMAT}",
                        "re-pack the dataset folder with this isplab (`isplab data pack DIR --out STORE --overwrite`)")
    problem = _index_problem(root, index)
    if problem:
        raise DataError(root / INDEX, f"malformed store index ({problem})",
                        "run `isplab data pack DIR --out STORE --overwrite` to re-pack the dataset folder")
    return index


def _is_int(value: Any, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _index_problem(root: Path, index: dict[str, Any]) -> str | None:
    """What is wrong with a store index's fields (their types, counts and shard paths), or None."""
    if not isinstance(index.get("source"), str):
        return "source is not a path"
    if not _is_int(index.get("shard_pairs"), 1):
        return f"shard_pairs is {quote(index.get('shard_pairs'))}, not a count >= 1"
    splits = index.get("splits")
    if not isinstance(splits, dict) or not splits:
        return "no splits"
    for name, entry in splits.items():
        where = f"split {quote(name)}"
        if not isinstance(entry, dict):
            return f"{where} is not a mapping"
        if entry.get("layout") not in LAYOUTS:
            return f"{where}: unknown layout {quote(entry.get('layout'))}"
        size, stems, shards = entry.get("size"), entry.get("stems"), entry.get("shards")
        if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v, 2) and v % 2 == 0 for v in size)):
            return f"{where}: size {quote(size)} is not [height, width] in even pixels"
        if not isinstance(entry.get("target_suffix"), str) or not _is_int(entry.get("max_code")):
            return f"{where}: no target_suffix or max_code"
        if not (isinstance(stems, list) and all(isinstance(s, str) for s in stems) and stems):
            return f"{where}: stems is not a list of file names"
        if not isinstance(shards, list) or not all(isinstance(s, dict) for s in shards):
            return f"{where}: shards is not a list"
        counts = [s.get("count") for s in shards]
        if not all(_is_int(c, 1) and c <= index["shard_pairs"] for c in counts) or sum(counts) != len(stems):
            return f"{where}: shard counts {quote(counts)} do not add up to its {len(stems)} stems"
        for shard in shards:
            crc = shard.get("crc32")
            for key in ("raw", "rgb"):
                path = shard.get(key)
                if not isinstance(path, str) or (root / "shards").resolve() not in (root / path).resolve().parents:
                    return f"{where}: shard file {quote(path)} is not in the store's shards/ folder"
                if not (isinstance(crc, dict) and _is_int(crc.get(key))):
                    return f"{where}: shard {quote(path)} has no checksum"
    return None


def dataset_splits(root: str | Path) -> dict[str, Layout]:
    """Like :func:`~isplab.data.find_splits` (``{split: layout}``, ``{"": layout}`` if flat), for a folder or
    a store."""
    root = Path(root)
    if is_store(root):
        return {name: LAYOUTS[entry["layout"]] for name, entry in _index(root)["splits"].items()}
    if (root / PLAN).is_file():
        raise DataError(root, "is an unfinished pack (no index.json)",
                        "re-run the same `isplab data pack` command to finish it (it resumes)")
    return find_splits(root)


def open_pairs(root: str | Path, split: str | None = None, indices: Sequence[int] | None = None,
               size: int | tuple[int, int] | None = None, white_level: float = MAI_WHITE_LEVEL
               ) -> PairedRawDataset | StoredPairs:
    """The pairs of ``split`` of a dataset folder or a packed store (same arguments and interface)."""
    kind = StoredPairs if is_store(root) else PairedRawDataset
    return kind(root, split=split, indices=indices, size=size, white_level=white_level)


def split_name(split: str | None) -> str:
    """The shard-name stem of a split (``pairs`` for a flat folder)."""
    return split or FLAT


class StoredPairs(Dataset):
    """A split of a packed store, read like :class:`~isplab.data.PairedRawDataset` (same arguments,
    attributes and items); :meth:`load_codes` returns memory-mapped views (no copy, no decoding).

    ``raw_files`` / :meth:`files` name the *source* files each pair was packed from, so messages point at
    the original data; ``folder`` is ``STORE/<split>`` (its parent holds a synthetic ``camera.json``)."""

    def __init__(self, root: str | Path, split: str | None = None, indices: Sequence[int] | None = None,
                 size: int | tuple[int, int] | None = None, white_level: float = MAI_WHITE_LEVEL):
        self.root, self.white_level = Path(root), float(white_level)
        index = _index(self.root)
        splits = index["splits"]
        if split is None and "" not in splits:
            if "train" not in splits:
                raise DataError(self.root, f"holds splits {', '.join(splits)} but no train",
                                "pick a split (e.g. --split test), or pack a folder with a train/ split")
            split = "train"
        if split is not None and split not in splits:
            found = ", ".join(s for s in splits if s) or "none (packed from a single split)"
            raise DataError(self.root, f"no split {split!r}; splits found: {found}",
                            "pick one of those splits, or omit the split for a store of a flat folder")
        self.split = split
        entry = splits["" if split is None else split]
        self.layout = LAYOUTS[entry["layout"]]
        self.folder = self.root if split is None else self.root / split
        self.source = Path(index["source"]) / (split or "")
        self.target_suffix = entry["target_suffix"]
        self.raw_files = [self.source / self.layout.raw_dir / f"{stem}.png" for stem in entry["stems"]]
        self.positions = list(range(len(self.raw_files))) if indices is None else [int(i) for i in indices]
        bad = [i for i in self.positions if not 0 <= i < len(self.raw_files)]
        if bad:
            raise ValueError(f"indices {bad[:5]} out of range for {len(self.raw_files)} pairs")
        self.size = tuple(entry["size"])
        want = (size, size) if isinstance(size, int) else size
        if want is not None and tuple(want) != self.size:
            h, w = self.size
            raise DataError(self.root, f"split {split_name(split)} holds {h}x{w} pairs, not {want[0]}x{want[1]}",
                            "drop the size option (a store knows its size) or re-pack the right data")
        self.max_code = int(entry["max_code"])
        self._shard_pairs = int(index["shard_pairs"])
        self._shards = entry["shards"]
        self._arrays: list[tuple[np.ndarray, np.ndarray]] | None = None

    def __getstate__(self) -> dict[str, Any]:
        # Worker processes map the shards themselves: pickling a memmap would copy the whole shard.
        return {**self.__dict__, "_arrays": None}

    def _shard_paths(self, shard: dict[str, Any]) -> tuple[Path, Path]:
        return self.root / shard["raw"], self.root / shard["rgb"]

    def _open(self, path: Path, shape: tuple[int, ...], dtype: type) -> np.ndarray:
        try:
            array = np.load(path, mmap_mode="r")
        except FileNotFoundError:
            raise DataError(path, "shard of the store is missing",
                            "re-pack the dataset (`isplab data pack DIR --out STORE --overwrite`)") from None
        except (OSError, ValueError) as exc:
            raise DataError(path, f"cannot map shard ({exc})", "the store is damaged: re-pack it with --overwrite"
                            ) from None
        if array.shape != shape or array.dtype != dtype:
            raise DataError(path, f"shard holds {array.dtype} {array.shape}, the index says {np.dtype(dtype)} "
                            f"{shape}", "the store is damaged: re-pack it with --overwrite")
        return array.view(np.ndarray)  # plain views of the map: np.memmap's slicing runs Python per slice

    def _arrays_of(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every shard mapped, each checked against its CRC-32 once per file version (:mod:`isplab.integrity`:
        a 40 GB store is read in full only the first time, or after it changed)."""
        if self._arrays is None:
            h, w = self.size
            arrays = []
            for shard in self._shards:
                raw_path, rgb_path = self._shard_paths(shard)
                n = shard["count"]
                pair = (self._open(raw_path, (n, 4, h // 2, w // 2), np.uint16),
                        self._open(rgb_path, (n, 3, h, w), np.uint8))
                for key, path, array in zip(("raw", "rgb"), (raw_path, rgb_path), pair, strict=True):
                    verify(path, str(shard["crc32"][key]), lambda _, a=array: str(shard_crc(a)),
                           "run `isplab data pack DIR --out STORE --overwrite` to re-pack the damaged store")
                arrays.append(pair)
            self._arrays = arrays
        return self._arrays

    def __len__(self) -> int:
        return len(self.positions)

    def files(self, item: int) -> tuple[Path, Path]:
        """``(raw_png, target)`` source paths pair ``item`` was packed from."""
        raw = self.raw_files[self.positions[item]]
        return raw, self.source / self.layout.target_dir / f"{raw.stem}{self.target_suffix}"

    def load_codes(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair ``item``: packed codes ``(4, h, w)`` uint16 and RGB ``(3, H, W)`` uint8, read-only views."""
        shard, row = divmod(self.positions[item], self._shard_pairs)
        raw, rgb = self._arrays_of()[shard]
        return raw[row], rgb[row]

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        codes, rgb = self.load_codes(item)
        return pair_to_tensors(np.array(codes), np.array(rgb), self.white_level)

    def validate(self, deep: bool = False) -> DatasetSummary:
        """Check every shard's header (shape, dtype); ``deep`` also checks each shard's CRC-32 (reads it all).
        The largest sensor code comes from the index."""
        arrays = self._arrays_of()
        if deep:
            for shard, pair in zip(self._shards, arrays, strict=True):
                for key, array in zip(("raw", "rgb"), pair, strict=True):
                    if shard_crc(array) != shard["crc32"][key]:
                        raise DataError(self.root / shard[key], "shard contents do not match its checksum",
                                        "the store is damaged: re-pack it with --overwrite")
        warning = bit_depth_warning(np.array(self.max_code), self.folder, self.white_level)
        return DatasetSummary(self.root, self.split, self.layout, len(self), self.size, self.max_code, warning)


def shard_crc(array: np.ndarray) -> int:
    """CRC-32 of an array's bytes, in 64 MB pieces (a shard need not fit in memory twice)."""
    flat = array.reshape(-1).view(np.uint8)
    crc = 0
    for start in range(0, len(flat), 64 << 20):
        crc = zlib.crc32(flat[start:start + (64 << 20)], crc)
    return crc


def check_store(root: str | Path, split: str | None = None, deep: bool = False,
                size: int | tuple[int, int] | None = None) -> list[DatasetSummary]:
    """:func:`~isplab.data.datasets.check_dataset` for a store: one summary per split (or for ``split``)."""
    splits = [split] if split is not None else [s or None for s in dataset_splits(root)]
    return [StoredPairs(root, split=s, size=size).validate(deep=deep) for s in splits]
