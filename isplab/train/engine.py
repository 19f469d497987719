"""The training loop: Adam, staged losses, LR schedule, validation, TensorBoard, atomic resumable checkpoints.

Resuming is exact because the data stream is a pure function of ``(seed, step)``: the batch and the
augmentation of every step are derived from the seed, so a resumed run sees the same batches it would
have seen without the interruption. Model, optimizer, scheduler and RNG states come from the checkpoint.

Multi-process (``torchrun --nproc-per-node N -m isplab train ...``, ``WORLD_SIZE > 1``): the process group is
initialised from the environment (gloo on CPU, nccl on GPUs), the model is wrapped in
DistributedDataParallel and every step's *global* batch of ``N x batch_size`` samples is drawn exactly as a
single process with that batch size would draw it; rank ``r`` trains on its ``r``-th slice. DDP averages
the gradients, so with mean-reduced losses ``N x B`` equals ``1 x N*B`` up to float rounding. Only rank 0
writes the config, checkpoints, metrics and TensorBoard logs, and validates (metrics are broadcast).
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from isplab.atomic import write_text_atomic
from isplab.config import dump_yaml, to_dict
from isplab.errors import IsplabError
from isplab.evaluate import evaluate
from isplab.models import create_model
from isplab.models.ops import finest_output
from isplab.models.weights import load_checkpoint, save_checkpoint
from isplab.raw.bayer import DIHEDRAL, augment_pair
from isplab.train.config import TrainConfig
from isplab.train.data import build_datasets
from isplab.train.ema import WeightEMA
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


class _RankSlice:
    """Distributed sampler: rank ``rank``'s contiguous ``1/world`` slice of each global step batch."""

    def __init__(self, batches: _StepBatches, rank: int, world: int):
        if batches.batch_size % world:
            raise ValueError(f"global batch {batches.batch_size} is not divisible by {world} processes")
        self.batches, self.rank, self.per_rank = batches, rank, batches.batch_size // world

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        lo = self.rank * self.per_rank
        for batch in self.batches:
            yield batch[lo:lo + self.per_rank]


@dataclass(frozen=True)
class _Dist:
    """This process's place in a multi-process run (``world == 1``: a plain single-process run)."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed() -> _Dist:
    """Join the process group torchrun describes in the environment (``WORLD_SIZE``, ``RANK``, ...)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist()
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    device = torch.device("cpu")
    if cuda:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return _Dist(dist.get_rank(), dist.get_world_size(), device)


def _average_gradients(params: list[nn.Parameter], world: int) -> None:
    """All-reduce-mean the gradients DDP does not own (the objectives' own parameters)."""
    for p in params:
        if p.requires_grad:
            if p.grad is None:  # keep the collective identical on every rank
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad)
            p.grad /= world


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


def make_loader(train_set: Dataset, cfg: TrainConfig, start: int, end: int, rank: int = 0,
                world: int = 1) -> DataLoader:
    """The training batches of global steps ``start..end`` (augmented, deterministic for ``cfg.seed``).

    With ``world`` processes the global batch is ``world * cfg.data.batch_size``; this rank gets its slice.
    """
    batches = _StepBatches(len(train_set), world * cfg.data.batch_size, cfg.seed, start, end, cfg.data.augment)
    sampler = batches if world == 1 else _RankSlice(batches, rank, world)
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
    ddp = _init_distributed()
    if ddp.world > 1:
        dist.barrier()  # every rank has checked run_dir before rank 0 writes into it
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # model init; the data stream has its own seeded generators
    model = create_model(cfg.model, **cfg.model_kwargs).to(ddp.device)
    train_set, val_set = build_datasets(cfg.data, cfg.seed)
    objectives = nn.ModuleList(
        create_objective(s.objective.name, cfg=cfg, model=model, stage=s, **s.objective.kwargs) for s in cfg.stages
    ).to(ddp.device)
    params = [*model.parameters(), *objectives.parameters()]
    optimizer = torch.optim.Adam(params, lr=cfg.optim.lr, betas=cfg.optim.betas,
                                 weight_decay=cfg.optim.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(cfg, s))
    ema = WeightEMA(model, cfg.ema.decay)
    step, best = 0, -math.inf
    if resume:
        state = load_checkpoint(last)
        model.load_state_dict(state.get("live_model", state["model"]))  # live_model: saved with EMA on
        ema.load_state_dict(state.get("ema", {}))
        objectives.load_state_dict(state["objectives"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        step, best = state["step"], state.get("best_psnr", -math.inf)
    # DDP syncs the model's gradients during backward; unused outputs (multi-level heads) are allowed.
    net = model if ddp.world == 1 else nn.parallel.DistributedDataParallel(
        model, device_ids=[ddp.device.index] if ddp.device.type == "cuda" else None, find_unused_parameters=True)
    if ddp.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "config.yml", dump_yaml(cfg))

    from torch.utils.tensorboard import SummaryWriter  # heavy import, only when training

    writer = SummaryWriter(str(run_dir / "tb"), purge_step=step if resume else None) if ddp.main else None
    end = cfg.total_steps if stop_after is None else min(cfg.total_steps, stop_after)
    loader = make_loader(train_set, cfg, step, end, ddp.rank, ddp.world)

    def checkpoint(name: str, metrics: dict[str, float] | None = None) -> None:
        if not ddp.main:
            return
        state = {"model_name": cfg.model, "model_kwargs": cfg.model_kwargs, "model": ema.weights(model),
                 "objectives": objectives.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(),
                 "rng": torch.get_rng_state(), "step": step, "best_psnr": best, "config": to_dict(cfg),
                 "metrics": metrics or {}}
        if ema.enabled:
            state.update(live_model=model.state_dict(), ema=ema.state_dict())
        save_checkpoint(ckpt_dir / name, state)

    def log(record: dict[str, Any]) -> None:
        if not ddp.main:
            return
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    metrics: dict[str, float] = {}
    t0, data_wait = time.perf_counter(), 0.0
    model.train()
    bar = tqdm(total=end, initial=step, desc=f"train {cfg.model}", disable=not (progress and ddp.main),
               unit="step")
    fetch = time.perf_counter()
    for raw, target in loader:
        data_wait += time.perf_counter() - fetch
        raw, target = raw.to(ddp.device), target.to(ddp.device)
        objective = objectives[cfg.stages.index(cfg.stage_at(step))]
        objective.train()
        total, terms = objective(net, raw, target, step)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if ddp.world > 1:
            _average_gradients(list(objectives.parameters()), ddp.world)
        optimizer.step()
        ema.update(model)
        scheduler.step()
        step += 1
        bar.update(1)
        if writer is not None and (step % cfg.log_every == 0 or step == end):
            writer.add_scalar("train/loss", total.item(), step)
            for name, value in terms.items():
                writer.add_scalar(f"train/{name}", float(value), step)
            writer.add_scalar("train/lr", scheduler.get_last_lr()[0], step)
            bar.set_postfix(loss=f"{total.item():.4f}")
        if step % cfg.val_every == 0 or step == cfg.total_steps:
            with ema.swapped(model):
                metrics = _validate(model, val_set, cfg.data.batch_size, ddp)
            model.train()
            for name, value in metrics.items():
                if writer is not None:
                    writer.add_scalar(f"val/{name}", value, step)
            log({"step": step, **metrics})
            if metrics["psnr"] > best:
                best = metrics["psnr"]
                checkpoint("best.pt", metrics)
        if step % cfg.ckpt_every == 0 or step == end:
            checkpoint("last.pt", metrics)
        fetch = time.perf_counter()
    bar.close()
    if writer is not None:
        writer.close()
    seconds = time.perf_counter() - t0
    return TrainResult(run_dir, step, {**metrics, "data_wait_s": data_wait, "train_s": seconds}, seconds)


def _validate(model: nn.Module, val_set: Dataset, batch_size: int, ddp: _Dist) -> dict[str, float]:
    """Validation metrics: computed on rank 0, broadcast so every rank takes the same decisions."""
    metrics: dict[str, float] = {}
    if ddp.main and ddp.device.type == "cpu":
        metrics = evaluate(model, val_set, batch_size=batch_size)
    elif ddp.main:  # evaluate() feeds CPU tensors: move them to the model's device and back
        model.eval()
        metrics = evaluate(lambda x: finest_output(model(x.to(ddp.device))).cpu(), val_set, batch_size=batch_size)
    if ddp.world > 1:
        box = [metrics]
        dist.broadcast_object_list(box, src=0)
        metrics = box[0]
    return metrics
