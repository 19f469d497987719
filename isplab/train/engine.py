"""The training loop: Adam, staged losses, LR schedule, validation, TensorBoard, atomic resumable checkpoints.

Resuming is exact because the data stream is a pure function of ``(seed, step)``: the batch and the
augmentation of every step are derived from the seed, so a resumed run sees the same batches it would
have seen without the interruption. Model, optimizer, scheduler and RNG states come from the checkpoint.

Multi-process (``torchrun --nproc-per-node N -m isplab train ...``, ``WORLD_SIZE > 1``): the process group is
initialised from the environment (gloo on CPU, nccl on GPUs), and every step's *global* batch of
``N x batch_size`` samples is drawn exactly as a single process with that batch size would draw it; rank
``r`` trains on its ``r``-th slice (objectives drawing data of their own, target-camera batches or masks,
slice it the same way). The whole objective runs inside DistributedDataParallel's forward
(:class:`~isplab.train.objectives.base.ObjectiveStep`), so every objective (``multilevel``, ``domain``,
``distill``, ...) gets the model's gradients averaged; the objectives' own parameters are averaged apart.
With mean-reduced losses ``N x B`` equals ``1 x N*B`` up to float rounding. Only rank 0 writes the config,
checkpoints, metrics and TensorBoard logs, and validates (metrics are broadcast).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from isplab.atomic import check_writable, remove_stale_temps, write_text_atomic
from isplab.config import dump_yaml, to_dict
from isplab.data.splits import EvalSet
from isplab.errors import IsplabError
from isplab.evaluate import evaluate
from isplab.locks import folder_lock
from isplab.models import create_model
from isplab.models.weights import init_from, load_checkpoint, load_weights, save_checkpoint
from isplab.train.config import TrainConfig
from isplab.train.data import BatchSource, build_run_data, run_domain
from isplab.train.device import HostToDevice, MixedPrecision, resolve_device
from isplab.train.ema import WeightEMA
from isplab.train.guards import check_step, check_weights, collapse_warning, constant_image_psnr
from isplab.train.objectives import create_objective
from isplab.train.objectives.base import ObjectiveStep


@dataclass
class TrainResult:
    run_dir: Path
    step: int
    metrics: dict[str, float]
    seconds: float
    already_finished: bool = False


def _check_run_dir(run_dir: Path, resume: bool) -> Path:
    """The run's ``last.pt``; fail before any work on a run dir that cannot be (re)used."""
    if run_dir.exists() and not run_dir.is_dir():
        raise IsplabError(f"{run_dir}: exists and is not a folder. Choose another --out for the run")
    last = run_dir / "checkpoints" / "last.pt"
    if not resume and last.exists():
        raise IsplabError(f"{run_dir}: already holds a training run. Pass --resume to continue it, "
                          "or choose another --out")
    if resume and not last.is_file():
        raise IsplabError(f"{run_dir}: no checkpoints/last.pt to resume. Start it without --resume")
    check_writable(run_dir / "config.yml", "run folder")
    return last


def _keep_metrics_until(path: Path, step: int) -> None:
    """Drop ``metrics.jsonl`` records after ``step``: a resumed run writes them again (no duplicates)."""
    if not path.is_file():
        return
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
    if len(kept) != len(lines):
        write_text_atomic(path, "".join(f"{line}\n" for line in kept))


@dataclass(frozen=True)
class _Dist:
    """This process's place in a multi-process run (``world == 1``: a plain single-process run)."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: str = "auto") -> _Dist:
    """This process's device (``cfg.device``; ``cuda:LOCAL_RANK`` under torchrun), and the process group
    torchrun describes in the environment (``WORLD_SIZE``, ``RANK``, ...)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    target = resolve_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    if target.type == "cuda":
        torch.cuda.set_device(target)
    if world <= 1:
        return _Dist(device=target)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if target.type == "cuda" else "gloo")
    return _Dist(dist.get_rank(), dist.get_world_size(), target)


def _param_groups(model: nn.Module, objectives: nn.ModuleList) -> list[dict[str, Any]]:
    """The model's and the objectives' parameters in one group (the base settings), then each objective's
    own groups (:meth:`~isplab.train.objectives.base.Objective.param_groups`, e.g. a discriminator's LR)."""
    own = [group for objective in objectives for group in objective.param_groups()]
    taken = {id(p) for group in own for p in group["params"]}
    base = [p for p in (*model.parameters(), *objectives.parameters()) if id(p) not in taken]
    return [{"params": base}, *own]


def _average_gradients(params: list[nn.Parameter], world: int) -> None:
    """All-reduce-mean the gradients DDP does not own (the current objective's own parameters; other stages'
    are left without gradients, so Adam skips them as in one process)."""
    for p in params:
        if p.requires_grad:
            if p.grad is None:  # keep the collective identical on every rank
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad)
            p.grad /= world


class _Steps(Dataset):
    """Batch ``start + i`` of a source as item ``i``, for DataLoader workers (``data.num_workers > 0``).

    A source with ``batch_codes`` (a dataset folder or store) sends its integer batch, a third of the float32
    bytes through shared memory; :func:`step_batches` converts it (``to_float``) in the training process."""

    def __init__(self, source: BatchSource, size: int, start: int, end: int):
        self.source, self.size, self.start, self.end = source, size, start, end

    def __len__(self) -> int:
        return self.end - self.start

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if hasattr(self.source, "batch_codes"):
            codes, rgb = self.source.batch_codes(self.start + i, self.size)
            return torch.from_numpy(codes), torch.from_numpy(rgb)
        return self.source.batch(self.start + i, self.size)


def step_batches(source: BatchSource, cfg: TrainConfig, start: int, end: int, rank: int = 0, world: int = 1,
                 pin_memory: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This rank's slice of the global batches of steps ``start..end``.

    The global batch of a step is ``world * cfg.data.batch_size`` pairs drawn exactly as one process with that
    batch size would draw them; rank ``r`` takes the ``r``-th slice. Batches are made in this process
    (cheapest on a 2-core CPU: worker processes measured slower there), or by ``data.num_workers`` workers,
    which put them in pinned memory when ``pin_memory`` (a CUDA run: asynchronous copies to the GPU).
    """
    per_rank = cfg.data.batch_size
    size = world * per_rank
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]]
    if cfg.data.num_workers:
        batches = DataLoader(_Steps(source, size, start, end), batch_size=None, num_workers=cfg.data.num_workers,
                             pin_memory=pin_memory)
        if hasattr(source, "batch_codes"):
            batches = (source.to_float(codes.numpy(), rgb.numpy()) for codes, rgb in batches)
    else:
        batches = (source.batch(step, size) for step in range(start, end))
    lo = rank * per_rank
    for raw, target in batches:
        yield raw[lo:lo + per_rank], target[lo:lo + per_rank]


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

    The run folder is locked while this runs (``run_dir/.lock``, :func:`isplab.locks.folder_lock`): a second
    process training it is refused; the lock of a process that died is taken over, with a warning.
    """
    run_dir = Path(run_dir)
    _check_run_dir(run_dir, resume)
    if os.environ.get("RANK", "0") != "0":  # rank 0 writes the run folder and holds its lock
        return _train(cfg, run_dir, resume, stop_after, progress)
    with folder_lock(run_dir, "training", lambda line: print(line, file=sys.stderr)):
        return _train(cfg, run_dir, resume, stop_after, progress)


def _train(cfg: TrainConfig, run_dir: Path, resume: bool, stop_after: int | None, progress: bool) -> TrainResult:
    """:func:`train` once the run folder is locked (checked again: another process may have just left it)."""
    ckpt_dir = run_dir / "checkpoints"
    last = _check_run_dir(run_dir, resume)
    if resume:
        state = load_checkpoint(last)
        if state["model_name"] != cfg.model:
            raise IsplabError(f"{last}: holds a {state['model_name']} run, not {cfg.model}. "
                              "Drop --model or choose another --out")
        if state["step"] >= cfg.total_steps:
            return TrainResult(run_dir, state["step"], state.get("metrics", {}), 0.0, already_finished=True)
    ddp = _init_distributed(cfg.device)
    amp, to_device = MixedPrecision(cfg.amp, ddp.device), HostToDevice(ddp.device)
    if ddp.world > 1:
        dist.barrier()  # every rank has checked run_dir before rank 0 writes into it
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)  # model init; the data stream has its own seeded generators
    model = create_model(cfg.model, **cfg.model_kwargs).to(ddp.device)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    if cfg.init and not resume:
        init_from(model, cfg.init, cfg.model)
    data = build_run_data(cfg.data, cfg.seed)
    domain = run_domain(cfg.data)
    objectives = nn.ModuleList(
        create_objective(s.objective.name, cfg=cfg, model=model, stage=s, rank=ddp.rank, world=ddp.world,
                         **s.objective.kwargs) for s in cfg.stages
    ).to(ddp.device)
    params = [*model.parameters(), *objectives.parameters()]
    # The fused kernel: one pass over all parameters per step (CPU and CUDA).
    optimizer = torch.optim.Adam(_param_groups(model, objectives), lr=cfg.optim.lr, betas=cfg.optim.betas,
                                 eps=cfg.optim.eps, weight_decay=cfg.optim.weight_decay, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(cfg, s))
    ema = WeightEMA(model, cfg.ema.decay)
    step, best, train_s0 = 0, -math.inf, 0.0
    if resume:
        load_weights(model, state.get("live_model", state["model"]), last, state["model_name"])
        ema.load_state_dict(state.get("ema", {}))
        objectives.load_state_dict(state["objectives"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        amp.load_state_dict(state.get("amp_scaler", {}))
        if ddp.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], ddp.device)
        step, best = state["step"], state.get("best_psnr", -math.inf)
        train_s0 = state.get("train_s", 0.0)
    # net(objective, raw, target, step) runs the whole objective (any model method, the loss) inside DDP's
    # forward, so DDP syncs all the model's gradients and finds the parameters the loss does not reach.
    net: nn.Module = ObjectiveStep(model)
    if ddp.world > 1:
        net = nn.parallel.DistributedDataParallel(
            net, device_ids=[ddp.device.index] if ddp.device.type == "cuda" else None, find_unused_parameters=True)
    if ddp.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        for folder in (run_dir, ckpt_dir):
            remove_stale_temps(folder)
        write_text_atomic(run_dir / "config.yml", dump_yaml(cfg))
        _keep_metrics_until(run_dir / "metrics.jsonl", step)

    from torch.utils.tensorboard import SummaryWriter  # heavy import, only when training

    writer = SummaryWriter(str(run_dir / "tb"), purge_step=step if resume else None) if ddp.main else None
    end = cfg.total_steps if stop_after is None else min(cfg.total_steps, stop_after)
    loader = step_batches(data.train, cfg, step, end, ddp.rank, ddp.world, pin_memory=to_device.pinned)

    def checkpoint(name: str, metrics: dict[str, float] | None = None) -> None:
        if not ddp.main:
            return
        check_weights(model, step, run_dir)
        check_weights(objectives, step, run_dir)  # a discriminator or head diverges too
        state = {"model_name": cfg.model, "model_kwargs": cfg.model_kwargs, "model": ema.weights(model),
                 "objectives": objectives.state_dict(), "optimizer": optimizer.state_dict(),
                 "scheduler": scheduler.state_dict(),
                 "rng": torch.get_rng_state(), "step": step, "best_psnr": best, "config": to_dict(cfg),
                 "metrics": metrics or {}, "train_s": train_seconds(), "amp_scaler": amp.state_dict(),
                 "raw_domain": domain.to_dict()}
        if ddp.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(ddp.device)
        if ema.enabled:
            state.update(live_model=model.state_dict(), ema=ema.state_dict())
        save_checkpoint(ckpt_dir / name, state)

    def log(record: dict[str, Any]) -> None:
        if not ddp.main:
            return
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")

    metrics: dict[str, float] = {}
    # Training time excludes validation (reported apart as val_s) and adds up over resumed sessions.
    t0, data_wait, val_s = time.perf_counter(), 0.0, 0.0
    constant_psnr: float | None = None

    def train_seconds() -> float:
        return train_s0 + time.perf_counter() - t0 - val_s

    model.train()
    bar = tqdm(total=end, initial=step, desc=f"train {cfg.model}", disable=not (progress and ddp.main),
               unit="step")
    fetch = time.perf_counter()
    for raw, target in loader:
        data_wait += time.perf_counter() - fetch
        raw, target = to_device(raw, memory_format), to_device(target)
        stage = cfg.stage_at(step)
        objective = objectives[cfg.stages.index(stage)]
        objective.train()
        with amp.autocast():
            total, terms = net(objective, raw, target, step)
        optimizer.zero_grad(set_to_none=True)
        amp.backward(total)
        if ddp.world > 1:
            _average_gradients(list(objective.parameters()), ddp.world)
        check_step(step, stage.name, total, terms, params if amp.checks_gradients else [], run_dir)
        amp.step(optimizer)
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
            val_t0 = time.perf_counter()
            with ema.swapped(model):
                metrics = _validate(model, data.val, cfg.data.batch_size, ddp, cfg.channels_last)
            model.train()
            val_s += time.perf_counter() - val_t0
            metrics.update(train_s=train_seconds(), val_s=val_s)
            if ddp.main:
                if constant_psnr is None:  # measured once, on the same images
                    constant_psnr = constant_image_psnr(data.val, cfg.data.batch_size)
                warning = collapse_warning(metrics["psnr"], constant_psnr, step)
                if warning:
                    tqdm.write(warning, file=sys.stderr)
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
    return TrainResult(run_dir, step, {**metrics, "data_wait_s": data_wait, "train_s": train_seconds(),
                                       "val_s": val_s}, seconds)


def _validate(model: nn.Module, images: EvalSet, batch_size: int, ddp: _Dist, channels_last: bool
              ) -> dict[str, float]:
    """Validation metrics: computed on rank 0, broadcast so every rank takes the same decisions."""
    metrics: dict[str, float] = {}
    if ddp.main:
        metrics = evaluate(model, images, batch_size=batch_size, channels_last=channels_last, device=ddp.device)
    if ddp.world > 1:
        box = [metrics]
        dist.broadcast_object_list(box, src=0)
        metrics = box[0]
    return metrics
