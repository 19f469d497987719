"""Multi-level training (PyNET-V2 Mobile, report sections 3 and 4.6): losses on several output levels.

Models exposing ``forward_levels(x, finest=k) -> {level: rgb}`` (level 1 = full resolution, each coarser
level half the size) are supervised on every level listed in ``level_weights``; the target is
average-pooled to each level's size. ``finest`` stops the forward pass early, so coarse-only stages are
cheap, exactly like the official script which builds the model only up to the trained level.

The official PyNET-V2 schedule (gmalivenko/PyNET-v2 ``train.sh`` / ``train_model_keras.py``) trains
level 3, then 2, then 1, each first with ``vgg+ssim`` (VGG relu5_4 content + 5 (1 - SSIM)), then with
``mse+ssim`` (100 MSE + 40 (1 - SSIM)); LR 1e-4 on level 3 and 5e-5 below. In isplab that is six
consecutive stages with ``objective: {name: multilevel, kwargs: {finest: k}}`` (see
``configs/pynetv2_mobile_vgg.yml``); weights carry over between stages as the official restore does.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from isplab.errors import IsplabError
from isplab.losses import CombinedLoss
from isplab.train.objectives.base import Objective, register_objective


def pool_to(target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``target`` ``(N, C, H, W)`` average-pooled to ``size`` (integer factor), as PyNET's coarser targets."""
    fh, fw = target.shape[-2] // size[0], target.shape[-1] // size[1]
    if fh < 1 or fw < 1 or (fh * size[0], fw * size[1]) != tuple(target.shape[-2:]):
        raise IsplabError(f"cannot pool a {tuple(target.shape[-2:])} target to level size {size}: "
                          "use image sides divisible by the level factor")
    return target if (fh, fw) == (1, 1) else F.avg_pool2d(target, (fh, fw))


@register_objective("multilevel")
class MultiLevel(Objective):
    """``sum_l level_weights[l] * losses_l(rgb_l, pool(target))`` over the supervised levels.

    Args (config ``kwargs``):
        finest: finest level computed (1 = full resolution); default 1.
        level_weights: ``{level: weight}``; default ``{finest: 1.0}`` (the official level-by-level recipe).
        level_losses: optional ``{level: [loss terms]}`` overriding the stage's losses for that level.
    """

    def __init__(self, cfg: Any, model: nn.Module, stage: Any, finest: int = 1,
                 level_weights: dict[int, float] | None = None,
                 level_losses: dict[int, list[Any]] | None = None, **kwargs: Any) -> None:
        super().__init__(cfg, model, stage, **kwargs)
        if not hasattr(model, "forward_levels"):
            raise IsplabError(f"objective multilevel needs a model with forward_levels(x, finest=k) "
                              f"(e.g. pynetv2_mobile); {cfg.model} has none. Use the supervised objective")
        self.finest = int(finest)
        weights = {int(k): float(v) for k, v in (level_weights or {self.finest: 1.0}).items()}
        if any(level < self.finest for level in weights):
            raise IsplabError(f"level_weights {weights} name levels finer than finest={self.finest}")
        self.weights = weights
        custom = {int(k): v for k, v in (level_losses or {}).items()}
        self.losses = nn.ModuleDict({str(lv): CombinedLoss(custom.get(lv, stage.losses)) for lv in weights})

    def forward(self, model: nn.Module, raw: torch.Tensor, target: torch.Tensor, step: int):
        levels = model.forward_levels(raw, finest=self.finest)
        total: torch.Tensor = raw.new_zeros(())
        terms: dict[str, torch.Tensor] = {}
        for level, weight in self.weights.items():
            if level not in levels:
                raise IsplabError(f"the model returned levels {sorted(levels)}, not level {level}")
            pred = levels[level]
            value, parts = self.losses[str(level)](pred, pool_to(target, tuple(pred.shape[-2:])))
            total = total + weight * value
            terms.update({f"level{level}/{k}": v for k, v in parts.items()})
        return total, terms
