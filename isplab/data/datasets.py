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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from isplab.errors import DataError
from isplab.raw.bayer import CFA, DIHEDRAL, MAI_WHITE_LEVEL, augment_pair, pack
from isplab.raw.readers import check_png_mosaic_header, load_png_mosaic

TARGET_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass(frozen=True)
class Layout:
    """A dataset layout: sub-folder names, file types and the mosaic size ``(H, W)`` (= target size)."""

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
    if not root.is_dir():
        raise DataError(root, "dataset folder does not exist",
                        "check the path, or run `isplab data synth --out DIR`")
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

    def __str__(self) -> str:
        h, w = self.size
        where = f"{self.split}: " if self.split else ""
        return (f"{where}{self.count} pairs, raw {h}x{w} 16-bit mosaic -> packed 4x{h // 2}x{w // 2}, "
                f"target {h}x{w} RGB")


class PairedRawDataset(Dataset):
    """``(raw, target)`` float32 tensors ``(4, h, w)`` and ``(3, 2h, 2w)`` from a dataset folder.

    Args:
        root: a layout folder, or a parent with split folders.
        split: split folder to read; ``None`` reads ``root`` if flat, else ``train/`` when present.
        augment: random dihedral transform (flips / 90-degree rotations, CFA-consistent) and random crop.
        indices: positions (into the numerically sorted file list) to keep, e.g. from :func:`split_indices`.
        crop: square crop side in target pixels (even); random when augmenting, centred otherwise.
        size: expected mosaic ``(H, W)`` (or side); defaults to the layout's (256 UltraISP, 448 Zurich).
        seed: ``None`` draws augmentation from torch's RNG (seeded per DataLoader worker, so reproducible
            under ``torch.manual_seed`` / the loader's generator); an int makes each draw a pure function
            of ``(seed, epoch, index)`` (call :meth:`set_epoch`), independent of workers.

    Files are checked lazily, per item; :meth:`validate` checks every header up front.
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        augment: bool = False,
        indices: Sequence[int] | None = None,
        crop: int | None = None,
        size: int | tuple[int, int] | None = None,
        seed: int | None = None,
    ):
        self.root = Path(root)
        splits = find_splits(self.root)
        if split is None and "" not in splits:
            if "train" not in splits:
                raise DataError(self.root, f"holds splits {', '.join(splits)} but no train/",
                                f"choose one with split= (or --split), e.g. {next(iter(splits))!r}")
            split = "train"
        if split is not None and split not in splits:
            found = ", ".join(s for s in splits if s) or "none (the folder is a single split)"
            raise DataError(self.root / split, f"no split {split!r}; splits found: {found}",
                            "pick one of those splits, or omit the split for a flat folder")
        self.split = split
        self.layout = splits["" if split is None else split]
        self.folder = self.root if split is None else self.root / split
        if size is None:
            size = self.layout.size
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if crop is not None and (crop % 2 or crop <= 0 or crop > min(self.size)):
            raise ValueError(f"crop must be an even size up to {min(self.size)}, got {crop}")
        self.augment, self.crop, self.seed, self.epoch = augment, crop, seed, 0

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

    def set_epoch(self, epoch: int) -> None:
        """Change the augmentation draws of a seeded dataset (no effect when ``seed`` is None)."""
        self.epoch = int(epoch)

    def files(self, item: int) -> tuple[Path, Path]:
        """``(raw_png, target)`` paths of item ``item``."""
        raw = self.raw_files[self.positions[item]]
        return raw, self.folder / self.layout.target_dir / f"{raw.stem}{self.target_suffix}"

    # ---- loading --------------------------------------------------------------------------------------

    def _load_raw(self, path: Path) -> np.ndarray:
        mosaic = load_png_mosaic(path)
        self._check_size(path, mosaic.shape, "raw mosaic")
        # Exactly the official maths: float32 packed / (4 * 255), unclipped (10-bit codes may exceed 1020).
        return pack(mosaic, CFA.RGGB).astype(np.float32) / np.float32(MAI_WHITE_LEVEL)

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
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(path, f"cannot decode image ({exc})",
                            "the file is truncated or corrupt; re-export it") from None
        return rgb.transpose(2, 0, 1).astype(np.float32) / np.float32(255)

    def _check_size(self, path: Path, shape: tuple[int, ...], what: str) -> None:
        if tuple(shape[:2]) != self.size:
            h, w = self.size
            raise DataError(
                path,
                f"{what} is {shape[0]}x{shape[1]} but the {self.layout.name} layout expects {h}x{w}",
                "re-export the patches at that size, or pass size= (--size) if the whole dataset differs",
            )

    def _check_raw_header(self, image: Image.Image, path: Path) -> None:
        check_png_mosaic_header(image, path)
        self._check_size(path, image.size[::-1], "raw mosaic")

    def _check_target_header(self, image: Image.Image, path: Path) -> None:
        if image.mode != "RGB":
            raise DataError(path, f"target is mode {image.mode}, expected 8-bit RGB",
                            "re-save it as 8-bit RGB")
        self._check_size(path, image.size[::-1], "target")

    def _rng(self, item: int) -> np.random.Generator:
        if self.seed is None:
            return np.random.default_rng(int(torch.randint(0, 2**63 - 1, (1,)).item()))
        return np.random.default_rng((self.seed, self.epoch, self.positions[item]))

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        raw_path, target_path = self.files(item)
        raw, target = self._load_raw(raw_path), self._load_target(target_path)
        if self.augment or self.crop:
            rng = self._rng(item) if self.augment else None
            if self.crop:
                side = self.crop // 2  # in packed pixels, so the target offset stays on the CFA grid
                max_y, max_x = raw.shape[1] - side, raw.shape[2] - side
                if rng is None:
                    y, x = max_y // 2, max_x // 2
                else:
                    y, x = int(rng.integers(0, max_y + 1)), int(rng.integers(0, max_x + 1))
                raw = raw[:, y:y + side, x:x + side]
                target = target[:, 2 * y:2 * (y + side), 2 * x:2 * (x + side)]
            if rng is not None:
                raw, target = augment_pair(raw, target, int(rng.integers(len(DIHEDRAL))))
        return torch.from_numpy(np.ascontiguousarray(raw)), torch.from_numpy(np.ascontiguousarray(target))

    # ---- checking -------------------------------------------------------------------------------------

    def validate(self, deep: bool = False) -> DatasetSummary:
        """Check every pair's headers (existence, bit depth, mode, size) without decoding pixels.

        ``deep`` also decodes each file, which catches truncated data. Raises :class:`DataError` at the
        first problem; returns a :class:`DatasetSummary`.
        """
        raw_stems = {p.stem for p in self.raw_files}
        target_dir = self.folder / self.layout.target_dir
        for target in sorted(target_dir.iterdir(), key=_numeric_key):
            if target.suffix.lower() in TARGET_SUFFIXES and target.stem not in raw_stems:
                raise DataError(target, f"missing partner file {self.layout.raw_dir}/{target.stem}.png",
                                "add the raw mosaic or remove the target")
        for item in range(len(self)):
            raw_path, target_path = self.files(item)
            if deep:
                self._load_raw(raw_path)
                self._load_target(target_path)
                continue
            self._check_header(raw_path, self._check_raw_header)
            if not target_path.is_file():
                self._load_target(target_path)  # raises the missing-partner error
            self._check_header(target_path, self._check_target_header)
        return DatasetSummary(self.root, self.split, self.layout, len(self), self.size)

    @staticmethod
    def _check_header(path: Path, check: Callable[[Image.Image, Path], None]) -> None:
        try:
            with Image.open(path) as image:  # reads the header only
                check(image, path)
        except DataError:
            raise
        except (OSError, SyntaxError, ValueError) as exc:
            raise DataError(path, f"cannot read image header ({exc})",
                            "the file is corrupt; re-export it") from None


def check_dataset(root: str | Path, split: str | None = None, deep: bool = False,
                  size: int | tuple[int, int] | None = None) -> list[DatasetSummary]:
    """Validate one split (or every split of ``root`` when ``split`` is None); one summary per split."""
    splits = [split] if split is not None else [s or None for s in find_splits(root)]
    return [PairedRawDataset(root, split=s, size=size).validate(deep=deep) for s in splits]


def split_indices(n: int, val_fraction: float = 0.1, seed: int = 0) -> tuple[list[int], list[int]]:
    """Deterministic random ``(train, val)`` partition of ``range(n)``, each sorted.

    At least one validation item whenever ``val_fraction > 0`` and ``n >= 2``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    n_val = 0 if val_fraction == 0 or n < 2 else min(n - 1, max(1, round(n * val_fraction)))
    order = np.random.default_rng(seed).permutation(n)
    return sorted(order[n_val:].tolist()), sorted(order[:n_val].tolist())
