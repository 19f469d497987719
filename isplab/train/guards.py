"""Training guards: stop at the first non-finite loss or gradient, never checkpoint non-finite weights, and
warn when a model has collapsed to a constant image.

A diverged run ends with one :class:`DivergedError` line (step, stage, loss terms, what to do) and exit code
2; its last good checkpoint is untouched, because the step that went non-finite is never applied and no
checkpoint is written from non-finite weights.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from isplab.data.splits import EvalSet
from isplab.errors import IsplabError
from isplab.metrics import psnr


class DivergedError(IsplabError):
    """Training produced a non-finite loss, gradient or weight."""


def _terms(terms: Mapping[str, float | Tensor]) -> str:
    return ", ".join(f"{k} {float(v):.4g}" for k, v in terms.items()) or "no terms"


def check_step(step: int, stage: str, total: Tensor, terms: Mapping[str, float | Tensor],
               params: Iterable[nn.Parameter], run_dir: Path) -> None:
    """Raise :class:`DivergedError` if the loss or any gradient of this step is not finite (before the
    optimiser applies it)."""
    where = f"{run_dir}: training diverged at step {step + 1} (stage {stage or '1'})"
    fix = f"lower the learning rate or check the data; the last good checkpoint in {run_dir / 'checkpoints'} is kept"
    if not torch.isfinite(total.detach()):
        raise DivergedError(f"{where}: loss {float(total.detach()):.4g} ({_terms(terms)}). To fix: {fix}")
    grads = [p.grad for p in params if p.grad is not None]
    if grads and not torch.isfinite(torch.nn.utils.get_total_norm(grads, foreach=True)):
        raise DivergedError(f"{where}: a gradient is not finite (loss {float(total):.4g}, {_terms(terms)}). "
                            f"To fix: {fix}")


def check_weights(model: nn.Module, step: int, run_dir: Path) -> None:
    """Raise :class:`DivergedError` before a checkpoint would store non-finite weights."""
    for name, value in model.state_dict().items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise DivergedError(f"{run_dir}: training diverged by step {step}: weight {name} is not finite. "
                                "To fix: lower the learning rate; the last good checkpoint is kept")


def constant_image_psnr(images: EvalSet, batch_size: int = 8) -> float:
    """PSNR of the best constant image (each target's own mean colour): the level of a collapsed model."""
    values = []
    for _, target in images.batches(batch_size):
        flat = target.mean(dim=(2, 3), keepdim=True).expand_as(target)
        values.append(psnr(flat, target, reduction="none"))
    return float(torch.cat(values).mean()) if values else -math.inf


def collapse_warning(val_psnr: float, constant_psnr: float, step: int, margin_db: float = 1.0) -> str | None:
    """A warning when validation PSNR is no better than a constant image's (the model ignores its input)."""
    if val_psnr >= constant_psnr + margin_db:
        return None
    return (f"warning: at step {step} validation PSNR {val_psnr:.2f} dB is no better than a constant image "
            f"({constant_psnr:.2f} dB): the model has collapsed to a flat output. Lower the learning rate")
