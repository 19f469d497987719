"""isplab's training loop against a minimal bare PyTorch loop: time to the same PSNR on unseen photos.

Both train the same model with the same data and hyperparameters (smallnet, batch 16, Adam lr 1e-3, L1,
constant LR, no augmentation, 1500 steps, 2 threads) on a synthesised UltraISP-layout folder of 480 pairs
(training photos), and are scored on 64 pairs of the test photo, never trained on. The bare loop is what a
user writes first: decode every pair into tensors, then ``randint`` batches, NCHW, ``torch.optim.Adam``.
isplab runs ``isplab.train.train`` with the folder as ``data.path`` (its validation = the unseen pairs,
every ``--eval-every`` steps, timed apart).

Reported: the bare loop's final PSNR ``P``; the wall time each needs to reach ``P`` (data loading included,
scoring excluded); their ratio (goal <= 1.0); the step-time ratio (goal <= 1.05). Each loop runs in its
own fresh process, one after the other. Writes ``benchmarks/results/train_vs_bare.{json,md}``.

    python benchmarks/train_vs_bare.py [--steps 1500] [--pairs 480] [--eval-every 100]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import write_results  # benchmarks/_results.py

MODEL, BATCH, LR = "smallnet", 16, 1e-3


def make_data(root: Path, pairs: int, test: int) -> Path:
    """Training pairs in ``train/``; the test photo's pairs in ``val/`` (what isplab validates on)."""
    from isplab.data import synthesize_dataset

    data = synthesize_dataset(root / "data", n=pairs, test=test, seed=0)
    (data / "test").rename(data / "val")
    return data


def bare(data: Path, steps: int, eval_every: int, threads: int) -> dict:
    """The minimal loop. Returns its curve ``[(step, train_s, psnr)]`` and step times."""
    import numpy as np
    import torch
    from PIL import Image

    from isplab.metrics import psnr
    from isplab.models import create_model
    from isplab.raw.bayer import MAI_WHITE_LEVEL, normalize, pack

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    t0 = time.perf_counter()

    def load(folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
        raws, rgbs = [], []
        for f in sorted((folder / "mediatek_raw").glob("*.png"), key=lambda p: int(p.stem)):
            raw = np.asarray(Image.open(f)).astype(np.float32)
            raws.append(normalize(pack(raw), 0, MAI_WHITE_LEVEL, clip=False))
            rgbs.append(np.asarray(Image.open(folder / "fujifilm" / f.name)).transpose(2, 0, 1) / 255)
        return torch.from_numpy(np.stack(raws)), torch.from_numpy(np.stack(rgbs).astype(np.float32))

    x, y = load(data / "train")
    load_s = time.perf_counter() - t0
    vx, vy = load(data / "val")
    model = create_model(MODEL)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    curve, step_s, train_s = [], [], load_s
    for step in range(1, steps + 1):
        t = time.perf_counter()
        idx = torch.randint(0, len(x), (BATCH,))
        loss = (model(x[idx]) - y[idx]).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        step_s.append(time.perf_counter() - t)
        train_s += step_s[-1]
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                model.eval()
                score = float(psnr(model(vx).clamp(0, 1), vy))
                model.train()
            curve.append((step, train_s, score))
    return {"curve": curve, "step_s": step_s, "load_s": load_s}


def isplab_loop(data: Path, steps: int, eval_every: int, threads: int, run: Path) -> dict:
    from isplab.train.config import DataConfig, OptimConfig, StageConfig, TrainConfig
    from isplab.train.engine import train

    cfg = TrainConfig(model=MODEL, data=DataConfig(path=str(data), batch_size=BATCH, augment=False, val_max=None),
                      optim=OptimConfig(lr=LR), stages=[StageConfig(steps=steps)], val_every=eval_every,
                      ckpt_every=eval_every, log_every=50, threads=threads)
    result = train(cfg, run, progress=False)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    curve = [(r["step"], r["train_s"], r["psnr"]) for r in records]
    return {"curve": curve, "val_s": result.metrics["val_s"], "train_s": result.metrics["train_s"]}


def time_to(curve: list, target: float) -> float | None:
    """Training seconds at the first scoring with PSNR >= ``target`` (None if never)."""
    return next((t for _, t, p in curve if p >= target - 1e-9), None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--pairs", type=int, default=480)
    p.add_argument("--test", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--worker", choices=["bare", "isplab"], help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--run", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker == "bare":
        print(json.dumps(bare(Path(args.data), args.steps, args.eval_every, args.threads)))
        return
    if args.worker == "isplab":
        print(json.dumps(isplab_loop(Path(args.data), args.steps, args.eval_every, args.threads, Path(args.run))))
        return

    tmp = Path(tempfile.mkdtemp(prefix="train_vs_bare."))
    try:
        data = make_data(tmp, args.pairs, args.test)
        common = ["--steps", str(args.steps), "--eval-every", str(args.eval_every), "--threads", str(args.threads),
                  "--data", str(data)]
        runs = {}
        for worker in ("bare", "isplab"):
            out = subprocess.run([sys.executable, __file__, "--worker", worker, *common, "--run", str(tmp / "run")],
                                 check=True, capture_output=True, text=True).stdout
            runs[worker] = json.loads(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    target = runs["bare"]["curve"][-1][2]
    t_bare, t_isplab = time_to(runs["bare"]["curve"], target), time_to(runs["isplab"]["curve"], target)
    bare_step = sorted(runs["bare"]["step_s"])[len(runs["bare"]["step_s"]) // 2]
    isplab_step = runs["isplab"]["train_s"] / args.steps
    bare_mean_step = (runs["bare"]["curve"][-1][1] - runs["bare"]["load_s"]) / args.steps
    result = {
        "model": MODEL, "batch": BATCH, "lr": LR, "steps": args.steps, "pairs": args.pairs, "threads": args.threads,
        "machine": platform.processor() or platform.machine(), "target_psnr": target,
        "bare_time_to_target_s": t_bare, "isplab_time_to_target_s": t_isplab,
        "time_to_psnr_ratio": None if t_isplab is None else t_isplab / t_bare,
        "bare_step_ms": 1000 * bare_mean_step, "bare_median_step_ms": 1000 * bare_step,
        "isplab_step_ms": 1000 * isplab_step, "step_time_ratio": isplab_step / bare_mean_step,
        "isplab_final_psnr": runs["isplab"]["curve"][-1][2], "isplab_validation_s": runs["isplab"]["val_s"],
        "bare_load_s": runs["bare"]["load_s"], "curves": {k: v["curve"] for k, v in runs.items()},
    }
    ratio = "never reached" if t_isplab is None else f"{result['time_to_psnr_ratio']:.2f}"
    md = [
        "# isplab training loop vs a bare PyTorch loop", "",
        f"{MODEL}, batch {BATCH}, Adam lr {LR:g}, L1, constant LR, no augmentation, {args.steps} steps, "
        f"{args.threads} threads, {args.pairs} UltraISP-layout pairs; scored on {args.test} pairs of an unseen photo "
        f"every {args.eval_every} steps (scoring time excluded). Each loop in a fresh process, one after the "
        "other.", "",
        "| | bare loop | isplab | ratio (goal) |", "|---|---:|---:|---:|",
        f"| time to {target:.2f} dB (bare final PSNR), s | {t_bare:.1f} | "
        f"{'—' if t_isplab is None else f'{t_isplab:.1f}'} | {ratio} (<= 1.0) |",
        f"| mean step, ms | {1000 * bare_mean_step:.1f} | {1000 * isplab_step:.1f} | "
        f"{result['step_time_ratio']:.2f} (<= 1.05) |",
        f"| final PSNR, dB | {target:.2f} | {result['isplab_final_psnr']:.2f} | |",
        f"| data loading (in the times above), s | {runs['bare']['load_s']:.1f} | lazy, in its steps | |",
        f"| validation (excluded), s | — | {runs['isplab']['val_s']:.1f} | |", "",
        "isplab's step is faster because it trains channels-last (NHWC) with the fused Adam kernel and keeps the "
        "decoded pairs in memory; the bare loop is NCHW with the default Adam.",
    ]
    write_results("train_vs_bare", result, md)


if __name__ == "__main__":
    main()
