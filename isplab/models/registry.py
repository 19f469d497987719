"""Model registry: ``@register_model`` on small factory functions, ``create_model(name)`` to build.

Every registered model maps packed raw ``(N, 4, H/2, W/2)`` in [0, 1] (canonical order, see
:mod:`isplab.raw.bayer`) to RGB ``(N, 3, H, W)`` in [0, 1].
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from isplab.errors import IsplabError


@dataclass(frozen=True)
class ModelEntry:
    name: str
    factory: Callable[..., nn.Module]
    description: str

    @property
    def input_multiple(self) -> int:
        """Packed height and width must be multiples of this (factory attribute ``input_multiple``, default 1)."""
        return getattr(self.factory, "input_multiple", 1)

    @property
    def min_input(self) -> int:
        """Smallest packed height/width the model accepts (factory attribute ``min_input``, default 1)."""
        return getattr(self.factory, "min_input", 1)


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register ``fn`` under its function name; the first docstring line is the description."""
    name = fn.__name__.replace("__", ".")  # ``microisp_0__5`` -> ``microisp_0.5``
    if name in _REGISTRY:
        raise ValueError(f"model {name!r} registered twice")
    doc = (fn.__doc__ or "").strip().splitlines()
    _REGISTRY[name] = ModelEntry(name, fn, doc[0] if doc else "")
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, pattern))


def model_entry(name: str) -> ModelEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise IsplabError(
            f"unknown model {name!r}. Known models: {', '.join(list_models())} (see `isplab models`)"
        ) from None


def create_model(name: str, **overrides) -> nn.Module:
    """Build registered model ``name``; ``overrides`` go to its factory (e.g. ``channels=8``)."""
    return model_entry(name).factory(**overrides)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
