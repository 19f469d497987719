"""``isplab data pack``: decode a dataset folder once into a packed store (format: :mod:`isplab.data.store`).

Every split folder the readers understand (flat, or ``train/`` ``val/`` ``test/``...; UltraISP or Zurich
layout; a synthetic folder's ``camera.json``) is packed as it is, so the store divides into train / val /
test exactly as the folder does (:mod:`isplab.data.splits`).

Writing is atomic and resumable: the store is built in ``.STORE.partial`` beside ``STORE``; each shard is
written under a temporary name, flushed and renamed, then marked done; ``index.json`` is written last and
the folder renamed into place. A crash leaves no folder that looks like a store; re-running the same
command resumes at the first unfinished shard (if the source files are unchanged, else starts afresh). An
existing store is replaced only with ``overwrite``, and only once the new one is complete.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from isplab.atomic import install_folder, write_text_atomic
from isplab.data.datasets import PairedRawDataset, find_splits
from isplab.data.store import FORMAT, INDEX, PLAN, is_store, read_index, shard_crc, split_name
from isplab.data.synth import read_info
from isplab.errors import DataError

#: Default shard size: few files, and an interrupted pack loses at most one shard of work.
SHARD_BYTES = 1 << 30


def pack_dataset(source: str | Path, out: str | Path, overwrite: bool = False, shard_pairs: int | None = None,
                 workers: int | None = None, progress: bool = True) -> Path:
    """Pack the dataset folder ``source`` into the store ``out``; returns ``out``.

    Args:
        overwrite: replace an existing store at ``out`` (never anything else).
        shard_pairs: pairs per shard file (default: ~1 GB shards).
        workers: decoding threads (default: up to 4, one per CPU).
        progress: show a progress bar.
    """
    source = Path(source).expanduser().absolute()
    out = Path(out).expanduser().absolute()
    if is_store(source):
        raise DataError(source, "is already a packed store", "pass it to --data directly, or pack the folder it "
                        "came from")
    splits = find_splits(source)
    datasets = {name: PairedRawDataset(source, split=name or None) for name in splits}
    if out == source or source in out.parents:
        raise DataError(out, "is inside the dataset folder being packed", "choose an --out outside it")
    _check_destination(out, overwrite)
    for dataset in datasets.values():  # every header before hours of decoding: a bad file stops us now
        dataset.validate()
    if shard_pairs is not None and shard_pairs < 1:
        raise DataError(None, f"shard_pairs {shard_pairs} must be >= 1", "omit it for ~1 GB shards")
    plan = _plan(source, datasets, shard_pairs)
    partial = out.parent / f".{out.name}.partial"
    with _locked(partial, plan):
        done = {p.name for p in (partial / "shards").glob("*.json")}
        total = sum(len(d) for d in datasets.values())
        bar = tqdm(total=total, desc=f"pack {source.name}", unit="pair", disable=not progress, dynamic_ncols=True)
        entries = {}
        with bar, ThreadPoolExecutor(workers or min(4, os.cpu_count() or 1)) as pool:
            for name, dataset in datasets.items():
                entries[name] = _pack_split(dataset, partial, plan["shard_pairs"], done, pool, bar)
        index = {"format": FORMAT, "source": str(source), "shard_pairs": plan["shard_pairs"],
                 "fingerprint": plan["fingerprint"], "splits": entries}
        for marker in (partial / "shards").glob("*.json"):  # now in the index
            marker.unlink()
        info = read_info(source)
        if info is not None:
            write_text_atomic(partial / "camera.json", json.dumps(info, indent=1))
        write_text_atomic(partial / INDEX, json.dumps(index, indent=1))
        (partial / PLAN).unlink()
        (partial / ".lock").unlink()
        install_folder(partial, out, lambda existing: _check_destination(existing, overwrite))
    return out


def already_packed(source: str | Path, out: str | Path, shard_pairs: int | None = None) -> bool:
    """Whether ``out`` is a finished store of ``source`` as it is now (the same files, sizes and times) with
    the requested shard size: re-running the pack has nothing to do."""
    source, out = Path(source).expanduser().absolute(), Path(out).expanduser().absolute()
    index = read_index(out)
    if index is None or index.get("source") != str(source) or "fingerprint" not in index:
        return False
    if shard_pairs is not None and index.get("shard_pairs") != shard_pairs:
        return False
    datasets = {name: PairedRawDataset(source, split=name or None) for name in find_splits(source)}
    return index["fingerprint"] == _plan(source, datasets, shard_pairs)["fingerprint"]


def _plan(source: Path, datasets: dict[str, PairedRawDataset], shard_pairs: int | None) -> dict[str, Any]:
    """What will be written, with a fingerprint of every source file (name, size, mtime): a resumed pack
    keeps finished shards only if nothing changed."""
    digest = hashlib.sha256()
    largest = 1
    for name, dataset in datasets.items():
        h, w = dataset.size
        largest = max(largest, 4 * (h // 2) * (w // 2) * 2 + 3 * h * w)
        for item in range(len(dataset)):
            for path in dataset.files(item):
                stat = path.stat()
                digest.update(f"{name}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return {"format": FORMAT, "source": str(source), "shard_pairs": shard_pairs or max(1, SHARD_BYTES // largest),
            "fingerprint": digest.hexdigest()}


@contextmanager
def _locked(partial: Path, plan: dict[str, Any]) -> Iterator[None]:
    """The ``.STORE.partial`` folder for this plan, held under an exclusive lock: resumed when it holds the
    same plan, else emptied."""
    partial.mkdir(parents=True, exist_ok=True)
    lock = open(partial / ".lock", "w")  # noqa: SIM115 (held for the whole pack)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(partial, "another `isplab data pack` is writing this store",
                            "wait for it to finish (or stop it) and run again") from None
        try:
            old = json.loads((partial / PLAN).read_text())
        except (OSError, ValueError):
            old = None
        if old != plan:
            extra = {p.name for p in partial.iterdir()} - {".lock", PLAN, "shards", INDEX, "camera.json"}
            if old is None and extra:  # never empty a folder an earlier pack did not make
                raise DataError(partial, "exists and is not an unfinished isplab pack",
                                "move or delete it, then run again")
            shutil.rmtree(partial / "shards", ignore_errors=True)
            write_text_atomic(partial / PLAN, json.dumps(plan, indent=1))
        (partial / "shards").mkdir(exist_ok=True)
        yield
    finally:
        lock.close()


def _pack_split(dataset: PairedRawDataset, partial: Path, shard_pairs: int, done: set[str],
                pool: ThreadPoolExecutor, bar: tqdm) -> dict[str, Any]:
    """Write (or keep, when done earlier) every shard of one split; its index entry."""
    h, w = dataset.size
    stem = split_name(dataset.split)
    shards = []
    for number, start in enumerate(range(0, len(dataset), shard_pairs)):
        stop = min(start + shard_pairs, len(dataset))
        name = f"{stem}-{number:05d}"
        marker = partial / "shards" / f"{name}.json"
        if marker.name not in done:
            shard = _write_shard(dataset, range(start, stop), partial, name, (h, w), pool, bar)
            write_text_atomic(marker, json.dumps(shard))
        else:
            bar.update(stop - start)
        shards.append(json.loads(marker.read_text()))
    return {
        "layout": dataset.layout.name, "size": [h, w], "count": len(dataset), "target_suffix": dataset.target_suffix,
        "stems": [p.stem for p in dataset.raw_files], "max_code": max(s["max_code"] for s in shards),
        "shards": shards,
    }


def _write_shard(dataset: PairedRawDataset, items: range, partial: Path, name: str, size: tuple[int, int],
                 pool: ThreadPoolExecutor, bar: tqdm) -> dict[str, Any]:
    """Decode ``items`` into ``shards/<name>.{raw,rgb}.npy``: written under temporary names, flushed to disk,
    then renamed. Returns the shard's index entry."""
    h, w = size
    shapes = {"raw": ((len(items), 4, h // 2, w // 2), np.uint16), "rgb": ((len(items), 3, h, w), np.uint8)}
    final = {key: partial / "shards" / f"{name}.{key}.npy" for key in shapes}
    tmp = {key: path.with_suffix(".npy.tmp") for key, path in final.items()}
    arrays = {key: np.lib.format.open_memmap(tmp[key], mode="w+", dtype=dtype, shape=shape)
              for key, (shape, dtype) in shapes.items()}
    for row, (codes, rgb) in enumerate(pool.map(dataset.load_codes, items)):
        arrays["raw"][row], arrays["rgb"][row] = codes, rgb
        bar.update()
    entry = {"count": len(items), "max_code": int(arrays["raw"].max()),
             "crc32": {key: shard_crc(array) for key, array in arrays.items()}}
    for key, array in arrays.items():
        array.flush()
        with open(tmp[key], "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp[key], final[key])
        entry[key] = str(final[key].relative_to(partial))
    return entry


def _check_destination(out: Path, overwrite: bool) -> None:
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if not out.is_dir():
        raise DataError(out, "exists and is not a folder", "choose another --out")
    if not is_store(out):  # never delete a folder isplab did not pack, whatever the flag says
        raise DataError(out, "folder is not empty and not a packed store", "choose a new or empty --out")
    if not overwrite:
        raise DataError(out, "is already a packed store", "pass --overwrite to replace it, or choose another --out")


