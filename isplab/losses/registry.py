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

from collections.abc import Callable
from typing import TypeVar

from torch import Tensor, nn

from isplab.errors import IsplabError
from isplab.registry import Entry, Registry

_Factory = TypeVar("_Factory", bound=Callable[..., nn.Module])

LOSSES: Registry[Entry] = Registry("loss")


def register_loss(name: str) -> Callable[[_Factory], _Factory]:
    """Register a loss class (or factory) under ``name``; the first docstring line is the description."""
    return LOSSES.register(name)


def list_losses(pattern: str = "*") -> list[str]:
    """Registered loss names matching a shell-style ``pattern``, sorted."""
    return LOSSES.names(pattern)


def loss_entry(name: str) -> Entry:
    return LOSSES.get(name)


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
