"""The training loop: Adam, staged losses, LR schedule, validation, TensorBoard, atomic resumable checkpoints.

Resuming is exact because the data stream is a pure function of ``(seed, step)``: the batch and the
augmentation of every step are derived from the seed, so a resumed run sees the same batches it would
have seen without the interruption. Model, optimizer, scheduler and RNG states come from the checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from isplab.atomic import write_text_atomic
from isplab.config import dump_yaml, to_dict
from isplab.errors import IsplabError
from isplab.evaluate import evaluate
from isplab.models import create_model
from isplab.raw.bayer import DIHEDRAL, augment_pair
from isplab.train.checkpoint import load_checkpoint, save_checkpoint
from isplab.train.config import TrainConfig
from isplab.train.data import build_datasets
from isplab.train.objectives import create_objective


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    metrics: dict[str, float]
    seconds: float


class _StepBatches:
    """Batch sampler: ``[(index, aug), ...]`` for steps ``start..end``, a pure function of the seed."""

    def __init__(self, n: int, batch_size: int, seed: int, start: int, end: int, augment: bool):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.start, self.end, self.augment = start, end, augment

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, epoch])
        aug = rng.integers(0, len(DIHEDRAL), self.n) if self.augment else np.zeros(self.n, dtype=int)
        return rng.permutation(self.n), aug

    def __len__(self) -> int:
        return self.end - self.start

    def __iter__(self):
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for step in range(self.start, self.end):
            batch = []
            for flat in range(step * self.batch_size, (step + 1) * self.batch_size):
                epoch, pos = divmod(flat, self.n)
                if epoch not in cache:
                    cache.clear()
                    cache[epoch] = self._epoch(epoch)
                perm, aug = cache[epoch]
                batch.append((int(perm[pos]), int(aug[pos])))
            yield batch


class _Augmented(Dataset):
    """Indexable by ``(index, dihedral transform)``: applies the CFA-consistent transform to a pair."""

    def __init__(self, base: Dataset):
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index, aug = key
        raw, target = self.base[index]
        if aug:
            raw, target = (torch.from_numpy(a) for a in augment_pair(raw.numpy(), target.numpy(), aug))
        return raw, target


def make_loader(train_set: Dataset, cfg: TrainConfig, start: int, end: int) -> DataLoader:
    """The training batches of global steps ``start..end`` (augmented, deterministic for ``cfg.seed``)."""
    sampler = _StepBatches(len(train_set), cfg.data.batch_size, cfg.seed, start, end, cfg.data.augment)
    return DataLoader(_Augmented(train_set), batch_sampler=sampler, num_workers=cfg.data.num_workers)


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Multiplier of the base LR at ``step``: the stage's own LR, warm-up, then constant / cosine / step."""
    stage_lr = cfg.stage_at(step).lr
    scale = 1.0 if stage_lr is None else stage_lr / cfg.optim.lr
    return scale * _schedule_factor(cfg, step)


def _schedule_factor(cfg: TrainConfig, step: int) -> float:
    sch, total = cfg.schedule, cfg.total_steps
    if sch.warmup_steps and step < sch.warmup_steps:
        return (step + 1) / sch.warmup_steps
    if sch.name == "cosine":
        progress = (step - sch.warmup_steps) / max(1, total - sch.warmup_steps)
        floor = sch.min_lr / cfg.optim.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if sch.name == "step":
        return sch.gamma ** (step // sch.step_size)
    return 1.0


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    resume: bool = False,
    stop_after: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``cfg.model`` into ``run_dir`` (``config.yml``, ``checkpoints/``, ``tb/``, ``metrics.jsonl``).

    Args:
        resume: continue from ``run_dir/checkpoints/last.pt`` exactly where it stopped.
        stop_after: end this invocation after that global step (as if killed after a checkpoint).
    """
    run_dir = Path(run_dir)
    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / "last.pt"
    if not resume and last.exists():
        raise IsplabError(f"{run_dir}: already holds a training run. Pass --resume to continue it, "
                          "or choose another --out")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # model init; the data stream has its own seeded generators
    model = create_model(cfg.model, **cfg.model_kwargs)
    train_set, val_set = build_datasets(cfg.data, cfg.seed)
    objectives = nn.ModuleList(
        create_objective(s.objective.name, cfg=cfg, model=model, stage=s, **s.objective.kwargs) for s in cfg.stages
    )
    params = [*model.parameters(), *objectives.parameters()]
    optimizer = torch.optim.Adam(params, lr=cfg.optim.lr, betas=cfg.optim.betas,
                                 weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(cfg, s))
    step, best = 0, -math.inf
    if resume:
        state = load_checkpoint(last)
        model.load_state_dict(state["model"])
        objectives.load_state_dict(state["objectives"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        step, best = state["step"], state.get("best_psnr", -math.inf)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.yml", dump_yaml(cfg))

    from torch.utils.tensorboard import SummaryWriter  # heavy import, only when training

    writer = SummaryWriter(str(run_dir / "tb"), purge_step=step if resume else None)
    end = cfg.total_steps if stop_after is None else min(cfg.total_steps, stop_after)
    loader = make_loader(train_set, cfg, step, end)

    def checkpoint(name: str, metrics: dict[str, float] | None = None) -> None:
        state = {"model_name": cfg.model, "model_kwargs": cfg.model_kwargs, "model": model.state_dict(),
                 "objectives": objectives.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(),
                 "rng": torch.get_rng_state(), "step": step, "best_psnr": best, "config": to_dict(cfg),
                 "metrics": metrics or {}}
        save_checkpoint(ckpt_dir / name, state)

    def log(record: dict[str, Any]) -> None:
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    metrics: dict[str, float] = {}
    t0, data_wait = time.perf_counter(), 0.0
    model.train()
    bar = tqdm(total=end, initial=step, desc=f"train {cfg.model}", disable=not progress, unit="step")
    fetch = time.perf_counter()
    for raw, target in loader:
        data_wait += time.perf_counter() - fetch
        objective = objectives[cfg.stages.index(cfg.stage_at(step))]
        objective.train()
        total, terms = objective(model, raw, target, step)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        scheduler.step()
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == end:
            writer.add_scalar("train/loss", total.item(), step)
            for name, value in terms.items():
                writer.add_scalar(f"train/{name}", float(value), step)
            writer.add_scalar("train/lr", scheduler.get_last_lr()[0], step)
            bar.set_postfix(loss=f"{total.item():.4f}")
        if step % cfg.val_every == 0 or step == cfg.total_steps:
            metrics = evaluate(model, val_set, batch_size=cfg.data.batch_size)
            model.train()
            for name, value in metrics.items():
                writer.add_scalar(f"val/{name}", value, step)
            log({"step": step, **metrics})
            if metrics["psnr"] > best:
                best = metrics["psnr"]
                checkpoint("best.pt", metrics)
        if step % cfg.ckpt_every == 0 or step == end:
            checkpoint("last.pt", metrics)
        fetch = time.perf_counter()
    bar.close()
    writer.close()
    seconds = time.perf_counter() - t0
    return TrainResult(run_dir, step, {**metrics, "data_wait_s": data_wait, "train_s": seconds}, seconds)
