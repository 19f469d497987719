"""``isplab data synth``: the embedded default data written as a dataset folder, for users who want files.

Pairs come from :class:`~isplab.data.stream.SyntheticStream` (photos unprocessed through random cameras of
a :class:`~isplab.data.camera.CameraFamily`) and are written in the UltraISP layout
(``mediatek_raw/<i>.png`` 16-bit codes, ``fujifilm/<i>.png`` 8-bit RGB), so
:class:`~isplab.data.PairedRawDataset` reads them like the official data. With ``val``/``test`` pairs the
folder holds ``train/``, ``val/`` and ``test/`` splits drawn from *disjoint photos*
(:mod:`isplab.data.photos`); ``camera.json`` records the camera family, the seed, the photos of each split
and every pair's photo, crop and camera parameters. Training itself does not need the folder: it draws
from the stream on the fly.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from isplab.atomic import install_folder
from isplab.data.camera import REFERENCE, CameraFamily
from isplab.data.photos import split_record
from isplab.data.stream import SyntheticStream
from isplab.errors import DataError
from isplab.raw.bayer import CFA, MAI_WHITE_LEVEL, unpack

FORMAT = "isplab-synth/2"

#: Pairs generated at once (bounds memory to ~100 MB at 256x256).
_CHUNK = 32


def synthesize_pairs(split: str, n: int, seed: int, camera: CameraFamily | None = None, size: int = 256
                     ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """``n`` pairs of one photo split in memory: mosaics ``(n, size, size)`` uint16 RGGB codes, targets
    ``(n, size, size, 3)`` uint8 and one record per pair. Deterministic for ``(split, seed)``."""
    if size % 2 or size <= 0:
        raise DataError(None, f"size {size} is not a positive even number", "a Bayer mosaic needs even sides")
    stream = SyntheticStream(camera=camera, patch=size, seed=seed, split=split)
    mosaics = np.empty((n, size, size), dtype=np.uint16)
    targets = np.empty((n, size, size, 3), dtype=np.uint8)
    records: list[dict[str, Any]] = []
    for chunk, start in enumerate(range(0, n, _CHUNK)):
        raw, target, recs = stream.sample(chunk, min(_CHUNK, n - start))
        codes = (raw * MAI_WHITE_LEVEL).round().numpy().astype(np.uint16)
        for i, packed in enumerate(codes):
            mosaics[start + i] = unpack(packed, CFA.RGGB)
        targets[start:start + len(raw)] = (target * 255).round().byte().permute(0, 2, 3, 1).numpy()
        records.extend(recs)
    return mosaics, targets, records


# ---- writing ----------------------------------------------------------------------------------------


def _read_info(folder: Path) -> dict[str, Any] | None:
    """The ``camera.json`` of a synthetic dataset, or None if ``folder`` is not one."""
    try:
        info = json.loads((folder / "camera.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and str(info.get("format", "")).startswith("isplab-synth/") else None


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _check_destination(out: Path, overwrite: bool) -> None:
    if not out.exists() or _is_empty_dir(out):
        return
    if not out.is_dir():
        raise DataError(out, "exists and is not a folder", "choose another --out")
    if not overwrite:
        raise DataError(out, "folder is not empty", "choose a new folder or pass --overwrite to replace it")
    if _read_info(out) is None:
        # Never delete a folder isplab did not create, whatever the flag says.
        raise DataError(out, "refusing to overwrite: not an isplab synthetic dataset (no camera.json)",
                        "choose a new or empty folder")


def _write_split(folder: Path, mosaics: np.ndarray, targets: np.ndarray) -> None:
    (folder / "mediatek_raw").mkdir(parents=True)
    (folder / "fujifilm").mkdir()
    for i, (mosaic, target) in enumerate(zip(mosaics, targets, strict=True)):
        Image.fromarray(mosaic).save(folder / "mediatek_raw" / f"{i}.png", compress_level=1)
        Image.fromarray(target).save(folder / "fujifilm" / f"{i}.png", compress_level=1)


def synthesize_dataset(out_dir: str | Path, n: int = 64, seed: int = 0, camera: CameraFamily | None = None,
                       size: int = 256, val: int = 0, test: int = 0, overwrite: bool = False) -> Path:
    """Write ``n`` training pairs (plus ``val`` and ``test`` pairs of other photos) in the UltraISP layout.

    With ``val == test == 0`` the folder is flat (``mediatek_raw/``, ``fujifilm/``); otherwise it holds
    ``train/``, ``val/`` and ``test/`` splits (empty ones left out). Written to a temporary folder and
    renamed into place, so ``out_dir`` is never half written. A non-empty ``out_dir`` is an error unless
    ``overwrite`` (and only a previous synthetic dataset is ever replaced).
    """
    if n < 1 or val < 0 or test < 0:
        raise DataError(None, f"cannot synthesise n={n}, val={val}, test={test}", "use n >= 1, val >= 0, test >= 0")
    out = Path(out_dir).expanduser().absolute()
    camera = camera or CameraFamily()
    _check_destination(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        counts = {"train": n, "val": val, "test": test}
        flat = val == 0 and test == 0
        pairs = []
        for split, count in counts.items():
            if not count:
                continue
            mosaics, targets, records = synthesize_pairs(split, count, seed, camera, size)
            _write_split(tmp if flat else tmp / split, mosaics, targets)
            pairs.extend({"split": split, "index": i, **r} for i, r in enumerate(records))
        info = {
            "format": FORMAT, "reference": REFERENCE, "layout": "ultraisp", "cfa": CFA.RGGB.value,
            "white_level": MAI_WHITE_LEVEL, "seed": seed, "size": size, "counts": counts,
            "camera": camera.to_dict(), "photos": split_record(), "pairs": pairs,
        }
        (tmp / "camera.json").write_text(json.dumps(info, indent=1))
        tmp.chmod(0o755)  # mkdtemp makes it private
        install_folder(tmp, out, lambda existing: _check_destination(existing, overwrite))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_info(folder: str | Path) -> dict[str, Any] | None:
    """The ``camera.json`` of a synthetic dataset (at ``folder`` or its parent), or None."""
    for candidate in (Path(folder), Path(folder).parent):
        info = _read_info(candidate)
        if info is not None:
            return info
    return None


