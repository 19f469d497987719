"""Few-shot adaptation: fine-tune trained weights on a handful of pairs of a new camera (``isplab adapt``).

The training engine does the work (:func:`isplab.train.engine.train`); this module only builds its config:
start from the given weights (``init``), train on the first ``shots`` training pairs of a dataset folder
(``data.shots``; validation on the folder's val split, :func:`isplab.data.splits.folder_splits`), a short
cosine schedule at a low learning rate, L1 loss, random 128x128 crops with flips.

Defaults (:data:`DEFAULT_STEPS`, :data:`DEFAULT_LR`) were chosen on ``benchmarks/few_shot.py``
(pretrained smallnet -> a synthetic camera outside its training family; results in docs/camera.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from isplab.errors import IsplabError

if TYPE_CHECKING:  # the module stays torch-free: `isplab adapt --help` reads its defaults
    from isplab.train.config import TrainConfig
    from isplab.train.engine import TrainResult

DEFAULT_SHOTS = 10
DEFAULT_STEPS = 300
DEFAULT_LR = 3e-4
DEFAULT_BATCH = 8
DEFAULT_PATCH = 128


def _check(ok: bool, option: str, problem: str, fix: str) -> None:
    if not ok:
        raise IsplabError(f"{option} {problem}. {fix}")


def adapt_config(weights: str, data: str | Path, shots: int = DEFAULT_SHOTS, steps: int = DEFAULT_STEPS,
                 lr: float = DEFAULT_LR, seed: int = 0, batch_size: int = DEFAULT_BATCH,
                 patch: int | None = DEFAULT_PATCH, val_max: int | None = 16, device: str = "auto",
                 amp: str = "none") -> TrainConfig:
    """The training config of a few-shot adaptation of ``weights`` (a checkpoint or ``pretrained:NAME``) to
    the first ``shots`` training pairs of the dataset folder ``data``.

    The model (name and kwargs) is the checkpoint's own. Options are range-checked here (``shots`` against
    the folder's training pairs: a one-line error naming ``--shots``); ``patch`` falls back to whole pairs
    when the pairs are smaller. ``device``/``amp``: where and at what precision it trains
    (:mod:`isplab.train.device`)."""
    from isplab.data.splits import folder_splits
    from isplab.models.weights import load_checkpoint, resolve_weights
    from isplab.train.config import DataConfig, OptimConfig, ScheduleConfig, StageConfig, TrainConfig

    _check(shots >= 1, "--shots", f"{shots} must be >= 1", "use e.g. --shots 10")
    _check(steps >= 1, "--steps", f"{steps} must be >= 1", f"omit it for the default {DEFAULT_STEPS}")
    _check(lr > 0, "--lr", f"{lr} must be > 0", f"omit it for the default {DEFAULT_LR}")
    _check(Path(data).is_dir(), "--data", f"{data} is not a folder", "point it at a paired dataset folder "
           "(UltraISP layout: mediatek_raw/ + fujifilm/, or train/ val/ test/ splits of them)")
    train_pairs = folder_splits(data).train
    _check(shots <= len(train_pairs), "--shots", f"{shots}: {data} holds only {len(train_pairs)} training pairs",
           f"use --shots {len(train_pairs)} or fewer")
    if patch is not None and patch > min(train_pairs.size):
        patch = None  # small pairs: train on whole ones
    state = load_checkpoint(resolve_weights(weights))
    return TrainConfig(
        model=state["model_name"], model_kwargs=dict(state.get("model_kwargs", {})), seed=seed,
        data=DataConfig(path=str(data), batch_size=batch_size, patch=patch, augment=True, val_max=val_max,
                        shots=shots),
        optim=OptimConfig(lr=lr), schedule=ScheduleConfig(name="cosine", min_lr=lr / 100),
        stages=[StageConfig(steps=steps, name="adapt")],
        val_every=max(1, steps // 3), ckpt_every=steps, log_every=10, init=str(weights), device=device, amp=amp,
    )


def run_adapt(cfg: TrainConfig, run_dir: str | Path, progress: bool = True) -> TrainResult:
    """Train ``cfg`` (from :func:`adapt_config`) into ``run_dir``; the last weights are
    ``run_dir/checkpoints/last.pt``."""
    from isplab.train.engine import train

    return train(cfg, run_dir, progress=progress)
