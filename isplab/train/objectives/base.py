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
    """Base class. ``stage.losses`` is the stage's task loss list; subclasses add what they need.

    ``rank`` / ``world``: this process's place in a multi-process run (the engine passes them). Objectives
    that draw per-sample random data of their own (target-camera batches, masks) draw it for the global
    batch of ``world x n`` samples and keep their slice (:meth:`shard`), as the engine does with the pairs.
    """

    def __init__(self, cfg: Any, model: nn.Module, stage: Any, *, rank: int = 0, world: int = 1,
                 **kwargs: Any) -> None:
        super().__init__()
        if kwargs:
            raise IsplabError(f"objective {type(self).__name__} got unknown option(s) {', '.join(kwargs)}")
        self.rank, self.world = rank, world

    def shard(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """This rank's ``n = len / world`` samples of each global-batch tensor: the ``rank``-th slice."""
        n = len(tensors[0]) // self.world
        return tuple(t[self.rank * n:(self.rank + 1) * n] for t in tensors)

    def param_groups(self) -> list[dict[str, Any]]:
        """Adam parameter groups with settings of their own (e.g. a discriminator's ``lr`` and ``betas``);
        parameters in none of them train with the model's settings."""
        return []

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


class ObjectiveStep(nn.Module):
    """``ObjectiveStep(model)(objective, raw, target, step)`` is ``objective(model, raw, target, step)``.

    The module the engine wraps in DistributedDataParallel: the whole objective (every model method it
    calls, ``forward_levels``, ``forward_with_domain``, ``forward(x, return_features=True)``, however many
    calls per step, and the loss) runs inside DDP's ``forward``, so every parameter's gradient is synchronised
    and ``find_unused_parameters`` finds exactly the parameters the *loss* does not reach (an unsupervised
    level's head, the domain classifier of a source-only stage), not just those a model output skips.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, objective: Objective, raw: torch.Tensor, target: torch.Tensor, step: int
                ) -> tuple[torch.Tensor, dict[str, float]]:
        return objective(self.model, raw, target, step)
