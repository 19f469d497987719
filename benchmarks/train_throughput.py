"""Training throughput (patches/s) of microisp and pynetv2_mobile, and the share of step time spent
waiting for data. Writes ``benchmarks/results/train_throughput.{json,md}``.

    python benchmarks/train_throughput.py [--models microisp,pynetv2_mobile] [--steps 30] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from isplab.data import ensure_default_data
from isplab.losses import CombinedLoss
from isplab.models import create_model
from isplab.train.config import DataConfig, StageConfig, TrainConfig
from isplab.train.data import build_datasets
from isplab.train.engine import make_loader

OUT = Path(__file__).resolve().parent / "results"


def measure(model_name: str, steps: int, batch_size: int, warmup: int, workers: int) -> dict:
    cfg = TrainConfig(model=model_name, data=DataConfig(path=str(ensure_default_data()), batch_size=batch_size,
                                                        num_workers=workers),
                      stages=[StageConfig(steps=steps + warmup)])
    train_set, _ = build_datasets(cfg.data, cfg.seed)
    model = create_model(model_name).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = CombinedLoss(cfg.stages[0].losses)
    wait = compute = 0.0
    fetch = time.perf_counter()
    for i, (raw, target) in enumerate(make_loader(train_set, cfg, 0, steps + warmup)):
        got = time.perf_counter()
        loss, _ = loss_fn(model(raw), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        done = time.perf_counter()
        if i >= warmup:
            wait += got - fetch
            compute += done - got
        fetch = time.perf_counter()
    total = wait + compute
    return {"model": model_name, "steps": steps, "batch_size": batch_size, "patch": list(raw.shape[-2:]),
            "num_workers": workers, "patches_per_s": steps * batch_size / total,
            "step_ms": 1000 * total / steps, "data_wait_share": wait / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="microisp,pynetv2_mobile")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    rows = [measure(m, args.steps, args.batch_size, args.warmup, args.workers) for m in args.models.split(",")]
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or
            platform.machine(), "data": "embedded synthetic UltraISP-layout pairs (256x256 RGB, 128x128x4 raw)"}
    OUT.mkdir(exist_ok=True)
    (OUT / "train_throughput.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    lines = ["# Training throughput", "", f"torch {meta['torch']}, {meta['threads']} threads, {meta['data']}", "",
             "| model | batch | patches/s | step ms | data wait share |", "|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['batch_size']} | {r['patches_per_s']:.1f} | {r['step_ms']:.0f} | "
              f"{100 * r['data_wait_share']:.1f}% |" for r in rows]
    (OUT / "train_throughput.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
