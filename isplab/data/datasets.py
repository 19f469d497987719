"""Paired raw -> RGB datasets in the layouts the official challenge data ship in.

* **UltraISP** (MAI 2021/2022, Fujifilm UltraISP): ``mediatek_raw/<i>.png`` 16-bit 256x256 mosaics and
  ``fujifilm/<i>.png`` 8-bit RGB 256x256 targets.
* **Zurich** (RAW-to-RGB, PyNET): ``huawei_raw/<i>.png`` 16-bit 448x448 mosaics and ``canon/<i>.jpg``
  8-bit RGB 448x448 targets.

A root is either one such folder or a parent with split folders (``train/``, ``test/``, ``val_comp/``...)
each holding one, as the official archives do. Items are ``(raw, target)`` float32 tensors equal to the
official loaders' (PyNET / PyNET-v2 ``load_dataset.py``) at full target resolution:
``raw`` = packed ``(4, H/2, W/2)`` (canonical ``B, G_r, R, G_b`` order) / 1020, **not** clipped, and
``target`` = ``(3, H, W)`` RGB / 255.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from isplab.errors import DataError
from isplab.raw.bayer import CFA, MAI_WHITE_LEVEL, normalize, pack
from isplab.raw.readers import check_png_mosaic_header, load_png_mosaic

TARGET_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Layout:
    """A dataset layout: sub-folder names, file types, and the official patch size ``(H, W)`` (documentation:
    a dataset's own size is read off its first mosaic)."""

    name: str
    raw_dir: str
    target_dir: str
    target_suffix: str
    size: tuple[int, int]
    description: str

    def describe(self) -> str:
        return f"{self.name} layout ({self.raw_dir}/*.png -> {self.target_dir}/*{self.target_suffix})"


LAYOUTS: dict[str, Layout] = {
    "ultraisp": Layout("ultraisp", "mediatek_raw", "fujifilm", ".png", (256, 256),
                       "Fujifilm UltraISP (MAI 2021/2022 learned smartphone ISP)"),
    "zurich": Layout("zurich", "huawei_raw", "canon", ".jpg", (448, 448), "Zurich RAW-to-RGB (PyNET)"),
}


def _match_layout(folder: Path) -> Layout | None:
    for layout in LAYOUTS.values():
        if (folder / layout.raw_dir).is_dir() or (folder / layout.target_dir).is_dir():
            return layout
    return None


def find_splits(root: str | Path) -> dict[str, Layout]:
    """Split folders of ``root`` holding a known layout, ``{name: layout}``; ``{"": layout}`` if flat."""
    root = Path(root)
    if root.is_file():
        raise DataError(root, "is a file, not a dataset folder",
                        "pass the folder holding mediatek_raw/ + fujifilm/ (or huawei_raw/ + canon/)")
    if not root.is_dir():
        raise DataError(root, "dataset folder does not exist",
                        "check the path, or run `isplab data synth --out DIR`")
    if not os.access(root, os.R_OK | os.X_OK):
        raise DataError(root, "cannot read this folder (permission denied)", "fix its permissions")
    flat = _match_layout(root)
    if flat is not None:
        return {"": flat}
    splits = {p.name: layout for p in sorted(root.iterdir()) if p.is_dir() and (layout := _match_layout(p))}
    if splits:
        return splits
    if not any(root.iterdir()):
        raise DataError(root, "dataset folder is empty",
                        "copy a dataset here or run `isplab data synth --out DIR`")
    expected = "; ".join(f"{lay.raw_dir}/ + {lay.target_dir}/ ({lay.name})" for lay in LAYOUTS.values())
    raise DataError(
        root,
        "unknown dataset layout",
        f"expected sub-folders {expected}, directly or inside split folders such as train/ and test/",
    )


def _numeric_key(path: Path) -> tuple[int, int | str]:
    # The official files are 0.png, 1.png, ...: order them numerically, other names after, by name.
    return (0, int(path.stem)) if path.stem.isdigit() else (1, path.stem)


@dataclass(frozen=True)
class DatasetSummary:
    """What :meth:`PairedRawDataset.validate` found."""

    root: Path
    split: str | None
    layout: Layout
    count: int
    size: tuple[int, int]
    max_code: int | None = None  #: largest sensor code (``deep`` checks only)
    warning: str | None = None

    def __str__(self) -> str:
        h, w = self.size
        where = f"{self.split}: " if self.split else ""
        codes = "" if self.max_code is None else f", codes up to {self.max_code} ({self.max_code.bit_length()}-bit)"
        return (f"{where}{self.count} pairs, raw {h}x{w} 16-bit mosaic -> packed 4x{h // 2}x{w // 2}, "
                f"target {h}x{w} RGB{codes}")


class PairedRawDataset(Dataset):
    """``(raw, target)`` float32 tensors ``(4, h, w)`` and ``(3, 2h, 2w)`` from a dataset folder.

    Args:
        root: a layout folder, or a parent with split folders.
        split: split folder to read; ``None`` reads ``root`` if flat, else ``train/`` when present.
        indices: positions (into the numerically sorted file list) to keep (see :mod:`isplab.data.splits`).
        size: expected mosaic ``(H, W)`` (or side); default: the size of the first mosaic, which every other
            pair must share (the official data: 256 UltraISP, 448 Zurich).
        white_level: sensor code of saturation raw values are divided by (1020 = 4 * 255 for the MAI and Zurich
            data, as the official loaders do); e.g. 4095 for a 12-bit set.

    Items are whole pairs, unaugmented: training crops and flips them in
    :class:`~isplab.data.sources.FolderStream`. Files are checked lazily, per item; :meth:`validate`
    checks every header up front.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        indices: Sequence[int] | None = None,
        size: int | tuple[int, int] | None = None,
        white_level: float = MAI_WHITE_LEVEL,
    ):
        self.root, self.white_level = Path(root), float(white_level)
        splits = find_splits(self.root)
        if split is None and "" not in splits:
            if "train" not in splits:
                raise DataError(self.root, f"holds splits {', '.join(splits)} but no train/",
                                f"point the dataset folder option at one split folder, e.g. "
                                f"{self.root / next(iter(splits))}")
            split = "train"
        if split is not None and split not in splits:
            found = ", ".join(s for s in splits if s) or "none (the folder is a single split)"
            raise DataError(self.root / split, f"no split {split!r}; splits found: {found}",
                            "pick one of those splits, or omit the split for a flat folder")
        self.split = split
        self.layout = splits["" if split is None else split]
        self.folder = self.root if split is None else self.root / split
        raw_dir = self.folder / self.layout.raw_dir
        if not raw_dir.is_dir():
            raise DataError(raw_dir, "raw folder is missing", f"put the 16-bit mosaics in "
                            f"{self.layout.raw_dir}/ next to {self.layout.target_dir}/")
        self.target_suffix = self._detect_target_suffix()
        pngs = (p for p in raw_dir.iterdir() if p.suffix.lower() == ".png")
        self.raw_files = sorted(pngs, key=_numeric_key)
        if not self.raw_files:
            raise DataError(raw_dir, "no .png raw files", "the folder is empty or holds the wrong files")
        self.positions = list(range(len(self.raw_files))) if indices is None else [int(i) for i in indices]
        bad = [i for i in self.positions if not 0 <= i < len(self.raw_files)]
        if bad:
            raise ValueError(f"indices {bad[:5]} out of range for {len(self.raw_files)} files")
        if size is None:  # the first mosaic sets it; every other pair must match
            self._size_from = self.raw_files[0].name
            self.size = self._check_header(self.raw_files[0], lambda image, _: image.size[::-1])
        else:
            self._size_from = None
            self.size = (size, size) if isinstance(size, int) else tuple(size)

    def _detect_target_suffix(self) -> str:
        # Like the official loader, take the format the target folder actually holds (png or jpg).
        target_dir = self.folder / self.layout.target_dir
        if not target_dir.is_dir():
            raise DataError(target_dir, "target folder is missing", f"put the RGB targets in "
                            f"{self.layout.target_dir}/ next to {self.layout.raw_dir}/")
        suffixes = {p.suffix.lower() for p in target_dir.iterdir() if p.suffix.lower() in TARGET_SUFFIXES}
        if self.layout.target_suffix in suffixes or not suffixes:
            return self.layout.target_suffix
        return sorted(suffixes)[0]

    def __len__(self) -> int:
        return len(self.positions)

    def files(self, item: int) -> tuple[Path, Path]:
        """``(raw_png, target)`` paths of item ``item``."""
        raw = self.raw_files[self.positions[item]]
        return raw, self.folder / self.layout.target_dir / f"{raw.stem}{self.target_suffix}"

    # ---- loading --------------------------------------------------------------------------------------

    def _load_codes(self, path: Path) -> np.ndarray:
        mosaic = load_png_mosaic(path)
        self._check_size(path, mosaic.shape, "raw mosaic")
        return pack(mosaic, CFA.RGGB)

    def _load_target(self, path: Path) -> np.ndarray:
        if not path.is_file():
            raw_name = f"{self.layout.raw_dir}/{path.stem}.png"
            raise DataError(path, f"missing partner file (the target of {raw_name})",
                            f"add {path.name} to {path.parent.name}/ or remove the raw file")
        try:
            with Image.open(path) as image:
                self._check_target_header(image, path)
                rgb = np.asarray(image)
        except DataError:
            raise
        except PermissionError:
            raise DataError(path, "cannot read this file (permission denied)", "fix its permissions") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(path, f"cannot decode image ({exc})",
                            "the file is truncated or corrupt; re-export it") from None
        return np.ascontiguousarray(rgb.transpose(2, 0, 1))

    def _check_size(self, path: Path, shape: tuple[int, ...], what: str) -> None:
        if tuple(shape[:2]) != self.size:
            h, w = self.size
            why = f"the first mosaic ({self._size_from}) is" if self._size_from else "the dataset expects"
            raise DataError(path, f"{what} is {shape[0]}x{shape[1]} but {why} {h}x{w}",
                            "every pair of a split must have the same size: re-export or remove this pair")

    def _check_raw_header(self, image: Image.Image, path: Path) -> None:
        check_png_mosaic_header(image, path)
        self._check_size(path, image.size[::-1], "raw mosaic")

    def _check_target_header(self, image: Image.Image, path: Path) -> None:
        if image.mode != "RGB":
            raise DataError(path, f"target is mode {image.mode}, expected 8-bit RGB",
                            "re-save it as 8-bit RGB")
        self._check_size(path, image.size[::-1], "target")

    def load_codes(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair ``item`` undecoded into floats: packed sensor codes ``(4, h, w)`` uint16 and RGB ``(3, H, W)``
        uint8 (what the training cache keeps: a third of the float32 size)."""
        raw_path, target_path = self.files(item)
        return self._load_codes(raw_path), self._load_target(target_path)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        return pair_to_tensors(*self.load_codes(item), self.white_level)

    # ---- checking -------------------------------------------------------------------------------------

    def validate(self, deep: bool = False) -> DatasetSummary:
        """Check every pair's headers (existence, bit depth, mode, size) without decoding pixels.

        ``deep`` also decodes each file, which catches truncated data and finds the largest sensor code (a set
        read as 10-bit that holds 12-bit codes is reported in :attr:`DatasetSummary.warning`). Raises
        :class:`DataError` at the first problem; returns a :class:`DatasetSummary`.
        """
        raw_stems = {p.stem for p in self.raw_files}
        target_dir = self.folder / self.layout.target_dir
        for target in sorted(target_dir.iterdir(), key=_numeric_key):
            if target.suffix.lower() in TARGET_SUFFIXES and target.stem not in raw_stems:
                raise DataError(target, f"missing partner file {self.layout.raw_dir}/{target.stem}.png",
                                "add the raw mosaic or remove the target")
        top, warning = None, None
        for item in range(len(self)):
            raw_path, target_path = self.files(item)
            if deep:
                codes, _ = self.load_codes(item)
                top = max(top or 0, int(codes.max()))
                warning = warning or bit_depth_warning(codes, raw_path, self.white_level)
                continue
            self._check_header(raw_path, self._check_raw_header)
            if not target_path.is_file():
                self._load_target(target_path)  # raises the missing-partner error
            self._check_header(target_path, self._check_target_header)
        return DatasetSummary(self.root, self.split, self.layout, len(self), self.size, top, warning)

    @staticmethod
    def _check_header(path: Path, check: Callable[[Image.Image, Path], Any]) -> Any:
        try:
            with Image.open(path) as image:  # reads the header only
                return check(image, path)
        except DataError:
            raise
        except PermissionError:
            raise DataError(path, "cannot read this file (permission denied)", "fix its permissions") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(path, f"cannot read image header ({exc})",
                            "the file is corrupt; re-export it") from None


def pair_to_tensors(codes: np.ndarray, rgb: np.ndarray, white_level: float = MAI_WHITE_LEVEL
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Packed codes and 8-bit RGB (``(..., 4, h, w)``, ``(..., 3, H, W)``) -> the official loaders' float32
    tensors: raw = codes / ``white_level`` (1020) **unclipped** (10-bit codes may exceed 1020), target = RGB / 255."""
    raw = torch.from_numpy(normalize(codes, 0, white_level, clip=False))
    return raw, torch.from_numpy(np.ascontiguousarray(rgb)).float().div_(255)


def bit_depth_warning(codes: np.ndarray, path: Path, white_level: float = MAI_WHITE_LEVEL) -> str | None:
    """A message when sensor codes exceed what ``white_level`` implies (e.g. 12-bit data read as 10-bit)."""
    top = int(codes.max())
    bits = max(1, top.bit_length())
    if top <= 2 ** max(1, int(white_level).bit_length()) - 1:
        return None
    return (f"{path}: sensor codes reach {top}, beyond the white level {white_level:g}: the data looks {bits}-bit. "
            f"Set data.white_level: {2**bits - 1} (or re-export it as 10-bit) so raw values stay in [0, 1]")


def warn_bit_depth(codes: np.ndarray, path: Path, white_level: float = MAI_WHITE_LEVEL) -> bool:
    """Print :func:`bit_depth_warning` as one ``warning:`` line on stderr; returns whether it did."""
    message = bit_depth_warning(codes, path, white_level)
    if message:
        print(f"warning: {message}", file=sys.stderr)
    return message is not None


def check_dataset(root: str | Path, split: str | None = None, deep: bool = False,
                  size: int | tuple[int, int] | None = None) -> list[DatasetSummary]:
    """Validate one split (or every split of ``root`` when ``split`` is None); one summary per split."""
    splits = [split] if split is not None else [s or None for s in find_splits(root)]
    return [PairedRawDataset(root, split=s, size=size).validate(deep=deep) for s in splits]
