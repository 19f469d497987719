"""Weighted sums of registered losses, configured as a list of ``{name, weight, **kwargs}`` entries.

>>> import torch
>>> loss = CombinedLoss([{"name": "l1", "weight": 1.0}, {"name": "charbonnier", "weight": 0.5, "eps": 1e-6}])
>>> total, terms = loss(torch.zeros(1, 3, 8, 8), torch.ones(1, 3, 8, 8))
>>> float(total), sorted(terms)
(1.5, ['charbonnier', 'l1'])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from isplab.errors import IsplabError
from isplab.losses.registry import create_loss


@dataclass
class LossTerm:
    """One :class:`CombinedLoss` term: registered loss ``name`` built with ``kwargs``, times ``weight``."""

    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: LossTerm | Mapping[str, Any] | str) -> LossTerm:
        """From a config entry: ``"l1"``, ``{"name": "charbonnier", "weight": 0.5, "eps": 1e-6}``
        (options flat or under ``kwargs``), or a ``LossTerm``."""
        if isinstance(spec, LossTerm):
            return spec
        if isinstance(spec, str):
            return cls(spec)
        if not isinstance(spec, Mapping) or "name" not in spec:
            raise IsplabError(f"a loss term needs a 'name' (e.g. {{name: l1, weight: 1.0}}), got {spec!r}")
        options = dict(spec)
        name, weight = options.pop("name"), options.pop("weight", 1.0)
        kwargs = {**options.pop("kwargs", {}), **options}
        return cls(str(name), float(weight), kwargs)


class CombinedLoss(nn.Module):
    """``sum(weight_i * loss_i(pred, target))`` over the terms; returns ``(total, {name: term value})``.

    The dict holds each term's *unweighted*, detached value for logging; a name used twice gets a
    ``_2``, ``_3``... suffix. Terms with weight 0 are still computed and logged but add nothing.
    """

    def __init__(self, terms: Iterable[LossTerm | Mapping[str, Any] | str]) -> None:
        super().__init__()
        self.terms = [LossTerm.parse(t) for t in terms]
        if not self.terms:
            raise IsplabError("a combined loss needs at least one term, e.g. [{name: l1, weight: 1.0}]")
        for term in self.terms:
            if not math.isfinite(term.weight) or term.weight < 0:
                raise IsplabError(
                    f"loss {term.name!r} has weight {term.weight}; weights must be finite and >= 0"
                )
        self.losses = nn.ModuleList(create_loss(t.name, **t.kwargs) for t in self.terms)
        self.keys: list[str] = []
        seen: dict[str, int] = {}
        for term in self.terms:
            seen[term.name] = seen.get(term.name, 0) + 1
            self.keys.append(term.name if seen[term.name] == 1 else f"{term.name}_{seen[term.name]}")

    def forward(self, pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        values = [loss(pred, target) for loss in self.losses]
        total = sum(t.weight * v for t, v in zip(self.terms, values, strict=True))
        return total, {k: v.detach() for k, v in zip(self.keys, values, strict=True)}
