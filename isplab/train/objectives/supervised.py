"""Plain supervised RAW-to-RGB training: the stage's weighted losses on the model's full-resolution output."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from isplab.losses import CombinedLoss
from isplab.train.objectives.base import Objective, finest_output, register_objective


@register_objective("supervised")
class Supervised(Objective):
    def __init__(self, cfg: Any, model: nn.Module, stage: Any, **kwargs: Any) -> None:
        super().__init__(cfg, model, stage, **kwargs)
        self.loss = CombinedLoss(stage.losses)

    def forward(self, model: nn.Module, raw: torch.Tensor, target: torch.Tensor, step: int):
        return self.loss(finest_output(model(raw)), target)
