"""The objective registry and base class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from isplab.errors import IsplabError
from isplab.models.ops import finest_output  # noqa: F401  (re-exported for objectives)
from isplab.registry import Entry, Registry


class Objective(nn.Module):
    """Base class. ``stage.losses`` is the stage's task loss list; subclasses add what they need."""

    def __init__(self, cfg: Any, model: nn.Module, stage: Any, **kwargs: Any) -> None:
        super().__init__()
        if kwargs:
            raise IsplabError(f"objective {type(self).__name__} got unknown option(s) {', '.join(kwargs)}")

    def forward(
        self, model: nn.Module, raw: torch.Tensor, target: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError


OBJECTIVES: Registry[Entry] = Registry("objective")


def register_objective(name: str) -> Callable[[type[Objective]], type[Objective]]:
    """Register an :class:`Objective` subclass under ``name``."""
    return OBJECTIVES.register(name)


def list_objectives() -> list[str]:
    return OBJECTIVES.names()


def create_objective(name: str, cfg: Any, model: nn.Module, stage: Any, **kwargs: Any) -> Objective:
    return OBJECTIVES.get(name).factory(cfg=cfg, model=model, stage=stage, **kwargs)


def single_process(model: nn.Module, objective: str) -> nn.Module:
    """``model`` itself for objectives that call methods other than ``forward`` (``forward_levels``,
    ``forward_with_domain``, ``return_features``): DistributedDataParallel synchronises gradients only
    through its own ``forward``, so those objectives refuse multi-process training instead of diverging."""
    if isinstance(model, nn.parallel.DistributedDataParallel):
        raise IsplabError(f"objective {objective} calls model methods DistributedDataParallel does not "
                          "synchronise; train this stage in one process (without torchrun)")
    return model
