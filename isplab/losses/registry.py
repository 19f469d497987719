"""Loss registry: ``@register_loss("name")`` on ``nn.Module`` classes, ``create_loss(name, **kw)`` to build.

Every registered loss is an ``nn.Module`` called as ``loss(pred, target) -> scalar`` on RGB batches
``(N, 3, H, W)`` in [0, 1]; lower is better.

A new loss family is one module in this package (imported by ``isplab/losses/__init__.py``)::

    @register_loss("tv")
    class TotalVariationLoss(nn.Module):
        '''Total variation of the prediction.'''
        def forward(self, pred, target): ...

>>> import torch
>>> create_loss("l1")(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2))
tensor(1.)
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from torch import Tensor, nn

from isplab.errors import IsplabError

_Factory = TypeVar("_Factory", bound=Callable[..., nn.Module])


@dataclass(frozen=True)
class LossEntry:
    name: str
    factory: Callable[..., nn.Module]
    description: str


_REGISTRY: dict[str, LossEntry] = {}


def register_loss(name: str) -> Callable[[_Factory], _Factory]:
    """Register a loss class (or factory) under ``name``; the first docstring line is the description."""

    def decorator(factory: _Factory) -> _Factory:
        if name in _REGISTRY:
            raise ValueError(f"loss {name!r} registered twice")
        doc = (factory.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = LossEntry(name, factory, doc[0] if doc else "")
        return factory

    return decorator


def list_losses(pattern: str = "*") -> list[str]:
    """Registered loss names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def loss_entry(name: str) -> LossEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise IsplabError(f"unknown loss {name!r}. Known losses: {', '.join(list_losses())}") from None


def create_loss(name: str, **kwargs) -> nn.Module:
    """Build registered loss ``name``; ``kwargs`` go to its constructor (e.g. ``eps=1e-6``)."""
    entry = loss_entry(name)
    try:
        return entry.factory(**kwargs)
    except TypeError as exc:  # a misspelt option in a config: say which loss it was for
        raise IsplabError(f"bad options for loss {name!r}: {exc}") from None


def check_pair(pred: Tensor, target: Tensor) -> None:
    """Losses compare like with like: refuse shape mismatches instead of silently broadcasting."""
    if pred.shape != target.shape:
        raise IsplabError(
            f"loss inputs differ in shape: pred {tuple(pred.shape)}, target {tuple(target.shape)}"
        )
