"""Training-batch throughput: a folder of PNG/JPEG pairs vs its packed store (``isplab data pack``).

A Zurich RAW-to-RGB-sized set is generated in a temporary folder under /tmp (deleted afterwards):
``--pairs`` pairs in the Zurich layout, ``huawei_raw/<i>.png`` 448x448 16-bit Bayer mosaics (224x224x4
packed) and ``canon/<i>.jpg`` 448x448 RGB. Content: 64 distinct pairs (smooth scenes plus sensor-like
noise, so the files compress like real ones), repeated; every file is decoded in full either way, so
repetition changes no decoding cost. The folder is packed, then batches are drawn exactly as training
draws them (``isplab.train.data.build_run_data`` -> ``FolderStream``, ``isplab.train.engine.step_batches``
with ``data.num_workers`` DataLoader workers): ``--batch`` pairs, random ``--patch`` crops and flips. The
folder's decoded-pair cache is off (``cache_gb: 0``), as it must be for the real 46,839 pairs (~47 GB
decoded). Each configuration times at least ``--batches`` batches and ``--min-seconds`` after its first
(worker start-up excluded).

The needed rate is an **assumption**, not a measurement (no GPU here): PyNET-V2 Mobile on one A100 at
``--batch`` crops of ``--patch`` px, ``--gpu-steps`` optimiser steps per second (default 30); its forward
FLOPs per crop are counted here, and the FLOP-bound rate at ``--gpu-tflops`` sustained (3x forward per
training step) is shown beside it. Writes ``benchmarks/results/loader_throughput.{json,md}``.

    python benchmarks/loader_throughput.py [--pairs 5000] [--batches 20] [--min-seconds 3] [--workers 0 1 2]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import write_results  # benchmarks/_results.py
from PIL import Image

SIDE = 448  # Zurich RAW-to-RGB: 448x448 mosaic (224x224x4 packed) and 448x448 RGB
DISTINCT = 64


def encoded_pairs(n: int, seed: int = 0) -> list[tuple[bytes, bytes]]:
    """``n`` distinct (16-bit PNG mosaic, JPEG) pairs as encoded bytes: smooth colour fields plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIDE, 0:SIDE] / SIDE
    pairs = []
    for _ in range(n):
        f = rng.uniform(1, 6, (3, 2))
        p = rng.uniform(0, 2 * np.pi, (3, 2))
        rgb = np.stack([0.5 + 0.25 * np.sin(f[c, 0] * np.pi * yy + p[c, 0]) + 0.25 * np.cos(f[c, 1] * np.pi * xx
                        + p[c, 1]) for c in range(3)], -1)
        rgb8 = (rgb.clip(0, 1) * 255 + rng.normal(0, 3, rgb.shape)).clip(0, 255).astype(np.uint8)
        mosaic = np.empty((SIDE, SIDE))
        mosaic[0::2, 0::2], mosaic[0::2, 1::2] = rgb[0::2, 0::2, 0], rgb[0::2, 1::2, 1]
        mosaic[1::2, 0::2], mosaic[1::2, 1::2] = rgb[1::2, 0::2, 1], rgb[1::2, 1::2, 2]
        codes = (mosaic * 0.6 * 1020 + rng.normal(0, 6, mosaic.shape)).clip(0, 1023).astype(np.uint16)
        raw, jpg = io.BytesIO(), io.BytesIO()
        Image.fromarray(codes).save(raw, format="PNG")
        Image.fromarray(rgb8).save(jpg, format="JPEG", quality=95)
        pairs.append((raw.getvalue(), jpg.getvalue()))
    return pairs


def make_folder(root: Path, pairs: int) -> tuple[Path, float, int]:
    """The Zurich-layout folder; returns it, the seconds it took and its size in bytes."""
    start = time.perf_counter()
    folder = root / "zrr"
    (folder / "huawei_raw").mkdir(parents=True)
    (folder / "canon").mkdir()
    bank = encoded_pairs(DISTINCT)
    total = 0
    for i in range(pairs):
        raw, jpg = bank[i % DISTINCT]
        (folder / "huawei_raw" / f"{i}.png").write_bytes(raw)
        (folder / "canon" / f"{i}.jpg").write_bytes(jpg)
        total += len(raw) + len(jpg)
    return folder, time.perf_counter() - start, total


def throughput(data: Path, workers: int, batch: int, patch: int, batches: int, min_seconds: float) -> dict:
    """Pairs per second of at least ``batches`` training batches and ``min_seconds`` (after the first batch)."""
    from isplab.train.config import DataConfig, TrainConfig
    from isplab.train.data import build_run_data
    from isplab.train.engine import step_batches

    cfg = TrainConfig(data=DataConfig(path=str(data), batch_size=batch, patch=patch, cache_gb=0,
                                      num_workers=workers))
    source = build_run_data(cfg.data, seed=0, validate=False).train
    loader = step_batches(source, cfg, 0, 10**6)
    raw, _ = next(loader)
    assert raw.shape == (batch, 4, patch // 2, patch // 2)
    start, count, done = time.perf_counter(), 0, 0
    for raw, _ in loader:
        count, done = count + len(raw), done + 1
        if done >= batches and time.perf_counter() - start >= min_seconds:
            break
    seconds = time.perf_counter() - start
    loader.close()  # stops the workers
    return {"workers": workers, "batches": done, "seconds": round(seconds, 3),
            "pairs_per_s": round(count / seconds, 1)}


def forward_gflops(patch: int) -> float:
    """PyNET-V2 Mobile's forward GFLOPs for one ``patch`` x ``patch`` crop (torch's FLOP counter)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from isplab.models import create_model

    model = create_model("pynetv2_mobile").eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.rand(1, 4, patch // 2, patch // 2))
    return counter.get_total_flops() / 1e9


def markdown(result: dict) -> str:
    """The results table and the GPU comparison, from :func:`main`'s result."""
    rows, gpu, best = result["rows"], result["gpu_assumption"], result["best_pairs_per_s"]
    store = {r["workers"]: r for r in rows if r["source"] == "packed store"}
    batch, patch, cores = result["batch"], result["patch"], result["cpu_count"]
    md = [
        "# Training-batch throughput: PNG/JPEG folder vs packed store",
        "",
        f"{result['pairs']} generated Zurich-sized pairs (448x448 16-bit PNG mosaic = 224x224x4 packed, 448x448 "
        f"JPEG; {result['folder_gb']} GB as files, {result['store_gb']} GB packed), batches of {batch} random "
        f"{patch}x{patch} crops with flips drawn as training draws them (`FolderStream` via `step_batches`, "
        "`data.num_workers` DataLoader workers; folder cache off, as for the real 47 GB). "
        f"Each row times at least {result['min_batches']} batches and {result['min_seconds']:g} s after its first "
        f"batch; warm page cache. Machine: {cores} CPU cores, shared with other jobs (rows vary by ~20-40% "
        "between runs).",
        "",
        "| DataLoader workers | PNG/JPEG folder, pairs/s | packed store, pairs/s | speed-up (goal >= 10x) |",
        "|---:|---:|---:|---:|",
    ]
    for r in (r for r in rows if r["source"] == "PNG/JPEG folder"):
        w = r["workers"]
        md.append(f"| {w} | {r['pairs_per_s']:.0f} | {store[w]['pairs_per_s']:.0f} | "
                  f"{result['speedup_by_workers'][str(w)]}x |")
    int_mb = batch * (4 * (patch // 2) ** 2 * 2 + 3 * patch**2) / 1e6
    md += [
        "",
        f"Worker rows: a worker sends each integer batch ({int_mb:.0f} MB of uint16 codes + uint8 RGB) through "
        "shared memory and the training process converts it to float; for a store that hand-over costs more "
        "than making the batch, and on 2 cores the workers compete with the training process. Workers "
        "parallelise the folder's decoding.",
        "",
        f"Packing (`isplab data pack`, one-off): {result['pack_s']} s for {result['pairs']} pairs "
        f"({result['pack_pairs_per_s']:.0f} pairs/s; ~{46839 / result['pack_pairs_per_s'] / 60:.1f} min for the "
        "46,839 Zurich training pairs at this rate).",
        "",
        f"**What a GPU needs (assumption, not measured: no GPU here).** PyNET-V2 Mobile training at batch {batch} "
        f"of {patch}x{patch} crops on one A100, assumed {gpu['steps_per_s']:g} steps/s -> "
        f"**{gpu['pairs_per_s']:.0f} pairs/s**. Its forward pass is {gpu['forward_gflops_per_crop']} GFLOP per "
        f"crop (counted); at an assumed {gpu['sustained_tflops']:g} TFLOP/s sustained and 3x forward per step "
        f"the FLOP bound is ~{gpu['flop_bound_pairs_per_s']} pairs/s (small convolutions rarely get there). "
        f"Best here: folder {best['PNG/JPEG folder']:.0f} pairs/s, store {best['packed store']:.0f} pairs/s on "
        f"{cores} shared cores.",
    ]
    return "\n".join(md) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--patch", type=int, default=256, help="training crop, target pixels")
    parser.add_argument("--batches", type=int, default=20, help="timed batches per configuration, at least")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="timed seconds per configuration, at least")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--gpu-steps", type=float, default=30.0, help="ASSUMED A100 steps/s of PyNET-V2 Mobile")
    parser.add_argument("--gpu-tflops", type=float, default=50.0, help="ASSUMED sustained A100 TFLOP/s")
    args = parser.parse_args()

    import torch

    from isplab.data.pack import pack_dataset

    root = Path(tempfile.mkdtemp(prefix="isplab-loader-", dir="/tmp"))
    try:
        folder, gen_s, folder_bytes = make_folder(root, args.pairs)
        print(f"generated {args.pairs} pairs ({folder_bytes / 1e9:.2f} GB) in {gen_s:.1f}s", flush=True)
        start = time.perf_counter()
        store = pack_dataset(folder, root / "zrr.store", progress=False)
        pack_s = time.perf_counter() - start
        store_bytes = sum(p.stat().st_size for p in store.rglob("*") if p.is_file())
        print(f"packed in {pack_s:.1f}s ({store_bytes / 1e9:.2f} GB)", flush=True)
        rows = []
        for name, data in (("PNG/JPEG folder", folder), ("packed store", store)):
            for workers in args.workers:
                row = {"source": name, **throughput(data, workers, args.batch, args.patch, args.batches,
                                                       args.min_seconds)}
                print(row, flush=True)
                rows.append(row)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    gflops = forward_gflops(args.patch)
    need = args.gpu_steps * args.batch
    flop_bound = args.gpu_tflops * 1e3 / (3 * gflops)
    best = {name: max(r["pairs_per_s"] for r in rows if r["source"] == name) for name in ("PNG/JPEG folder",
                                                                                           "packed store")}
    store_rows = {r["workers"]: r for r in rows if r["source"] == "packed store"}
    speedups = {str(r["workers"]): round(store_rows[r["workers"]]["pairs_per_s"] / r["pairs_per_s"], 1)
                for r in rows if r["source"] == "PNG/JPEG folder"}
    result = {
        "pairs": args.pairs, "batch": args.batch, "patch": args.patch, "min_batches": args.batches,
        "min_seconds": args.min_seconds,
        "folder_gb": round(folder_bytes / 1e9, 2), "store_gb": round(store_bytes / 1e9, 2),
        "generate_s": round(gen_s, 1), "pack_s": round(pack_s, 1), "pack_pairs_per_s": round(args.pairs / pack_s, 1),
        "rows": rows, "speedup_by_workers": speedups, "best_pairs_per_s": best,
        "cpu_count": os.cpu_count(), "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "gpu_assumption": {"model": "pynetv2_mobile", "gpu": "A100", "steps_per_s": args.gpu_steps,
                           "pairs_per_s": need, "forward_gflops_per_crop": round(gflops, 2),
                           "sustained_tflops": args.gpu_tflops, "flop_bound_pairs_per_s": round(flop_bound)},
    }
    write_results("loader_throughput", result, markdown(result))


if __name__ == "__main__":
    main()
