"""Model registry: ``@register_model(name, recipe=...)`` on small factory functions, ``create_model(name)``.

Every registered model maps packed raw ``(N, 4, H/2, W/2)`` in [0, 1] (canonical order, see
:mod:`isplab.raw.bayer`) to RGB ``(N, 3, H, W)`` in [0, 1]. Its entry is the one home of what callers must
know before running it: input constraints (``min_input``, ``input_multiple``; checked on every forward of a
model built by :func:`create_model`) and its training recipe (``isplab/configs/<recipe>.yml``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import torch
from torch import nn

from isplab.camera.profile import ISPLAB_DOMAIN, RawDomain
from isplab.errors import IsplabError, first_line, quote
from isplab.registry import Entry, Registry

_Factory = TypeVar("_Factory", bound=Callable[..., nn.Module])


@dataclass(frozen=True)
class ModelEntry(Entry):
    """A registered model.

    Attributes:
        recipe: name of its training recipe in ``isplab/configs/`` (``isplab train --model NAME`` uses it).
        min_input: smallest packed height/width the model accepts.
        input_multiple: packed height and width must be multiples of this (for the factory's default depth;
            e.g. ``2 ** (levels - 1)`` for a UNet).
    """

    recipe: str
    min_input: int = 1
    input_multiple: int = 1

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` (naming the model and the fix) unless packed ``x`` fits the constraints."""
        h, w = x.shape[-2:]
        if h % self.input_multiple or w % self.input_multiple:
            m = self.input_multiple
            raise ValueError(f"{self.name} needs packed height and width divisible by {m} (got {h}x{w}); "
                             f"crop the raw image to a multiple of {2 * m} pixels")
        if min(h, w) < self.min_input:
            raise ValueError(f"{self.name} needs packed inputs of at least {self.min_input}x{self.min_input} "
                             f"(got {h}x{w}); use a raw image of at least {2 * self.min_input} pixels a side")


MODELS: Registry[ModelEntry] = Registry("model", ModelEntry, hint="see `isplab models`")


@dataclass(frozen=True)
class MapperEntry(Entry):
    """A TFLite weight mapper and the raw domain the file's weights were trained in (what ``isplab import``
    stores in the checkpoint, so the camera adapter feeds them their own input)."""

    domain: RawDomain = ISPLAB_DOMAIN


#: Readers of an official ``.tflite`` file's weights, ``(graph, model, **options) -> state dict``, registered
#: next to their model (``microisp.py``, ``zoo/jmu.py``) under the model names they fill; run by
#: :func:`isplab.export.tflite_weights.import_tflite_weights`.
TFLITE_MAPPERS: Registry[MapperEntry] = Registry("TFLite weight mapper", MapperEntry,
                                                 hint="see `isplab import --help`")


def register_model(
    name: str, *, recipe: str, min_input: int = 1, input_multiple: int = 1
) -> Callable[[_Factory], _Factory]:
    """Register a model factory under ``name``; the first docstring line is its description."""
    return MODELS.register(name, recipe=recipe, min_input=min_input, input_multiple=input_multiple)


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered model names matching a shell-style ``pattern``, sorted; with ``pretrained`` only those
    whose default weight card has its file (:mod:`isplab.models.cards`)."""
    names = MODELS.names(pattern)
    if not pretrained:
        return names
    from isplab.models.weights import has_pretrained  # weights.py builds models: imported when asked

    return [n for n in names if has_pretrained(n)]


def model_entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; an unknown name is an ``IsplabError`` listing the known models."""
    return MODELS.get(name)


def _check_input(entry: ModelEntry, module: nn.Module, args: tuple) -> None:
    entry.check_input(args[0])


def create_model(name: str, pretrained: bool | str = False, **overrides) -> nn.Module:
    """Build registered model ``name``; ``overrides`` go to its factory (e.g. ``channels=8``).

    With ``pretrained`` (``True``: the model's default weight card; or a card's tag, e.g. ``"mai22_official"``)
    those weights are loaded; the model is returned in train mode either way.
    """
    entry = model_entry(name)
    options = inspect.signature(entry.factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in options.values()):
        unknown = sorted(set(overrides) - set(options))
        if unknown:
            raise IsplabError(f"model {name!r} has no option {quote(unknown[0])}; its options: "
                              f"{', '.join(options) or 'none'}. Fix model_kwargs")
    try:
        model = entry.factory(**overrides)
    except (TypeError, ValueError, RuntimeError, ZeroDivisionError) as exc:  # e.g. a negative channel count
        raise IsplabError(f"model {name!r} cannot be built with {quote(overrides)} ({first_line(exc)[:120]}). "
                          "Fix model_kwargs") from None
    model.register_forward_pre_hook(partial(_check_input, entry))
    if pretrained:
        from isplab.models.weights import load_pretrained_into

        load_pretrained_into(model, name if pretrained is True else f"{name}.{pretrained}", overrides)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
