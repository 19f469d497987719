"""Two training recipes at equal budget on the embedded default data: val PSNR / SSIM and wall time.

Default: ``mialgo_3conv`` (MiAlgo track 1) trained with L1 only vs L1 + SSIM + histogram (ENERZAi's
colour-distribution loss), same seed, data stream, steps, batch and learning rate.
Writes ``benchmarks/results/recipe_compare.{json,md}``.

    python benchmarks/recipe_compare.py [--model mialgo_3conv] [--steps 300] [--batch-size 8] [--lr 1e-3] [--patch 128]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import torch
from _results import write_results

from isplab.config import from_dict
from isplab.train.config import TrainConfig
from isplab.train.engine import train

RECIPES = {
    "l1": [{"name": "l1"}],
    "l1+ssim+histogram": [{"name": "l1"}, {"name": "ssim", "weight": 0.2}, {"name": "histogram", "weight": 0.1}],
}


def run(name: str, losses: list[dict], args: argparse.Namespace, root: Path) -> dict:
    cfg = from_dict(TrainConfig, {
        "model": args.model, "seed": 0, "threads": args.threads,
        "data": {"batch_size": args.batch_size, "patch": args.patch},
        "optim": {"lr": args.lr}, "schedule": {"name": "cosine", "min_lr": args.lr / 10},
        "stages": [{"name": name, "steps": args.steps, "losses": losses}],
        "val_every": args.steps, "ckpt_every": args.steps, "log_every": 10,
    })
    result = train(cfg, root / name.replace("+", "_"), progress=False)
    return {"recipe": name, "losses": losses, "psnr": result.metrics["psnr"], "ssim": result.metrics["ssim"],
            "delta_e": result.metrics["delta_e"], "train_s": result.metrics["train_s"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="mialgo_3conv")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--patch", type=int, default=128, help="training crop (target pixels) of the embedded stream")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(name, losses, args, Path(tmp)) for name, losses in RECIPES.items()]
    meta = {"model": args.model, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
            "patch": args.patch, "schedule": "cosine to lr/10",
            "data": "embedded stream (fresh pairs each step); scored on the embedded val photo",
            "torch": torch.__version__, "machine": platform.machine(), "threads": args.threads}
    lines = [f"# Recipe comparison: {args.model}, {args.steps} steps x batch {args.batch_size}, lr {args.lr}",
             "", f"Embedded stream ({args.patch}-pixel crops), same seed and data; scored on the val photo (never "
             f"trained on); CPU, {args.threads} threads, torch {torch.__version__}.", "",
             "| recipe | val PSNR (dB) | val SSIM | val ΔE2000 | train time (s) |", "|---|---|---|---|---|"]
    lines += [f"| {r['recipe']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['delta_e']:.2f} | {r['train_s']:.1f} |"
              for r in rows]
    write_results("recipe_compare", {"meta": meta, "results": rows}, lines)


if __name__ == "__main__":
    main()
