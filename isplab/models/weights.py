"""Checkpoints and weights: the one loader of models from files, and the pretrained-weights lookup.

A checkpoint is a torch file holding a dict with ``model_name``, ``model_kwargs``, ``model`` (state dict),
``raw_domain`` (the :class:`~isplab.camera.profile.RawDomain` the model was trained in, as a plain dict)
and, for training runs, ``step``, ``optimizer``, ``scheduler``, ``rng``, ``config``. Weights-only
checkpoints (``isplab import``, pretrained files) carry the first four.

A weights-only checkpoint may also be a ``.safetensors`` file (tensors plus the rest as JSON metadata, no
pickle): the shipped weights are, and ``isplab import`` / ``calibrate`` write one when asked for that suffix.

Weights are named by a *spec*: a checkpoint path, or ``pretrained:MODEL[.TAG]`` for a weight card
(:mod:`isplab.models.cards`: the weights shipped in the package, or imported into the user's cache).

>>> resolve_weights("runs/a/checkpoints/best.pt").name
'best.pt'
"""

from __future__ import annotations

import io
import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from isplab.atomic import write_atomic
from isplab.camera.profile import ISPLAB_DOMAIN, RawDomain
from isplab.errors import IsplabError, first_line, quote
from isplab.models.cards import CARD_KEY, read_card, verify_shipped
from isplab.models.registry import create_model, list_models

PRETRAINED_PREFIX = "pretrained:"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Save ``state`` atomically (a crash mid-write never leaves a truncated file); a ``.safetensors`` path
    holds a weights-only checkpoint (:func:`save_safetensors`).

    A model checkpoint without a ``raw_domain`` gets isplab's default, so every checkpoint says which raw
    domain its model expects.
    """
    if "model_name" in state and "raw_domain" not in state:
        state = {**state, "raw_domain": ISPLAB_DOMAIN.to_dict()}
    if Path(path).suffix == ".safetensors":
        return save_safetensors(path, state)
    buffer = io.BytesIO()  # serialised first: a full disk then fails the write itself (an OSError naming the
    torch.save(state, buffer)  # file), not inside torch.save (a RuntimeError without it)
    return write_atomic(path, lambda f: f.write(buffer.getbuffer()))


def _non_finite(value: Any, key: str = "") -> Iterator[str]:
    """Keys of floating tensors holding NaN/inf anywhere in a (nested) checkpoint."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() and not torch.isfinite(value).all():
            yield key
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _non_finite(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _non_finite(v, f"{key}.{i}")


def load_data_only(path: str | Path, unreadable: str = "not a readable isplab checkpoint",
                   fix: str = "Re-export or re-train it") -> Any:
    """``torch.load`` as data only (``weights_only``): tensors, numbers, strings and containers. A file whose
    unpickling would call anything else (a class, a function: code a shared file could carry) is refused
    without running it; every failure is one :class:`IsplabError` naming ``path`` (``unreadable``, ``fix``:
    the wording for a corrupt file). Every ``.pt``/``.pth`` isplab reads goes through here."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError:
        raise IsplabError(f"{path}: cannot read this file (permission denied). Fix its permissions") from None
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))  # else a corrupt pickle (an unknown opcode...)
        if found:
            raise IsplabError(f"{path}: refused: loading it would run code (it names {found.group(1)}); isplab "
                              "loads weights as data only. Use a file written by isplab or "
                              "torch.save(model.state_dict()), or convert foreign weights with `isplab import`"
                              ) from None
        raise IsplabError(f"{path}: {unreadable} (UnpicklingError). {fix}") from None
    except Exception as exc:  # torch raises many types for corrupt files
        raise IsplabError(f"{path}: {unreadable} ({exc.__class__.__name__}). {fix}") from None


def _check_fields(state: Any, path: Path) -> dict[str, Any]:
    """The fields every loader reads, checked for their types (a crafted file gets one line, not a traceback)."""
    if not isinstance(state, dict) or "model_name" not in state or "model" not in state:
        raise IsplabError(f"{path}: not an isplab checkpoint (no model_name/model keys). "
                          "Convert foreign weights with `isplab import`")
    problem = None
    if not isinstance(state["model_name"], str):
        problem = f"model_name is {quote(state['model_name'])}, not a model name"
    elif not isinstance(state["model"], dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state["model"].items()):
        problem = "model is not a state dict (name -> tensor)"
    elif not isinstance(state.get("model_kwargs", {}), dict) or not all(
            isinstance(k, str) for k in state.get("model_kwargs", {})):
        problem = f"model_kwargs is {quote(state['model_kwargs'])}, not a mapping of option names"
    elif state.get("raw_domain") is not None and not isinstance(state["raw_domain"], dict):
        problem = f"raw_domain is {quote(state['raw_domain'])}, not a mapping"
    elif not isinstance(state.get("config", {}), dict) or not isinstance(state.get("config", {}).get("data", {}),
                                                                         dict):
        problem = f"config is {quote(state['config'])}, not a training config mapping"
    elif "step" in state and (type(state["step"]) is not int or state["step"] < 0):
        problem = f"step is {quote(state['step'])}, not a count of steps"
    if problem:
        raise IsplabError(f"{path}: damaged checkpoint: {problem}. Re-export or re-train it")
    return state


def save_safetensors(path: str | Path, state: dict[str, Any]) -> Path:
    """A weights-only checkpoint as safetensors: ``state['model']``'s tensors, every other field (model name
    and arguments, raw domain, scores, provenance: plain JSON data) as the file's card metadata."""
    from safetensors.torch import save

    card = {k: v for k, v in state.items() if k != "model"}
    try:
        text = json.dumps(card, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise IsplabError(f"{path}: only weights-only checkpoints (model, plain metadata) can be safetensors "
                          f"({exc}); save it as .pt") from None
    data = save({k: v.contiguous() for k, v in state["model"].items()}, metadata={CARD_KEY: text})
    return write_atomic(path, lambda f: f.write(data))


def _load_safetensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load

    card = read_card(path)
    try:
        tensors = load(path.read_bytes())
    except PermissionError:
        raise IsplabError(f"{path}: cannot read this file (permission denied). Fix its permissions") from None
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise IsplabError(f"{path}: not a readable safetensors checkpoint ({exc.__class__.__name__}). "
                          "Re-export or re-train it") from None
    return {**card, "model": tensors}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict of ``path``, checked: readable as data only, an isplab checkpoint, every tensor
    finite; shipped weights also match their recorded checksum."""
    path = Path(path)
    if not path.is_file():
        raise IsplabError(f"{path}: checkpoint not found. Pass the .pt file written by `isplab train` "
                          "(RUNDIR/checkpoints/last.pt or best.pt) or by `isplab import`, or pretrained:NAME "
                          f"({', '.join(list_models(pretrained=True)) or 'none shipped yet'})")
    verify_shipped(path)
    state = _load_safetensors(path) if path.suffix == ".safetensors" else load_data_only(path)
    state = _check_fields(state, path)
    bad = next(_non_finite(state), None)
    if bad is not None:
        raise IsplabError(f"{path}: non-finite values (NaN/inf) in {bad}: the training run diverged. "
                          "Use an earlier checkpoint (e.g. best.pt) or retrain with a lower LR")
    return state


def model_checkpoint(
    model_name: str, model_kwargs: dict[str, Any], model: nn.Module, domain: RawDomain = ISPLAB_DOMAIN
) -> dict[str, Any]:
    """A weights-only checkpoint dict (with the raw domain the weights expect)."""
    return {"model_name": model_name, "model_kwargs": dict(model_kwargs), "model": model.state_dict(),
            "raw_domain": domain.to_dict()}


def raw_domain(state: dict[str, Any], source: str | Path = "checkpoint") -> RawDomain:
    """The raw domain stored in a checkpoint dict (isplab's default for files older than the field)."""
    data = state.get("raw_domain")
    if data is None:
        return ISPLAB_DOMAIN
    try:
        if not isinstance(data, dict):
            raise TypeError(f"{quote(data)} is not a mapping")
        return RawDomain.from_dict(data, str(source))
    except (IsplabError, TypeError, ValueError) as exc:  # wrong types, lengths or keys
        raise IsplabError(f"{source}: its raw_domain is unusable ({first_line(exc)}). Re-export the checkpoint "
                          "with this isplab, or re-calibrate it (`isplab calibrate`)") from None


def load_weights(model: nn.Module, weights: dict[str, torch.Tensor], source: str | Path, claims: str) -> nn.Module:
    """``model.load_state_dict(weights)``, or one :class:`IsplabError` naming ``source``, the model the file
    ``claims`` to hold and the first tensor that does not fit (instead of torch's "size mismatch" list)."""
    expected = model.state_dict()
    problem = None
    for key, tensor in expected.items():
        if key not in weights:
            problem = f"{key} is missing from the file"
        elif tuple(weights[key].shape) != tuple(tensor.shape):
            problem = f"{key} is {tuple(weights[key].shape)} in the file, {tuple(tensor.shape)} in the model"
        if problem:
            break
    else:
        extra = next((k for k in weights if k not in expected), None)
        problem = None if extra is None else f"the file has {extra}, which the model does not"
    if problem:
        raise IsplabError(f"{source}: weights do not fit model {claims!r} ({problem}). The file holds another "
                          "architecture or other model_kwargs; pass a checkpoint of this model")
    model.load_state_dict(weights)
    return model


# ---- pretrained weights: the weight cards ---------------------------------------------------------------


def has_pretrained(name: str) -> bool:
    """Whether registered model ``name``'s default weight card has its file (shipped, or imported)."""
    from isplab.models.cards import list_cards

    return any(c.model == name and c.default and c.available() for c in list_cards())


def pretrained_path(name: str) -> Path:
    """The weights file of the card ``MODEL[.TAG]``; an :class:`IsplabError` saying how to get it."""
    from isplab.models.cards import weight_card

    card = weight_card(name)
    if card.available():
        return card.path()
    if card.importer:
        raise IsplabError(f"weights {card.name!r} are not imported yet: `isplab import {card.importer} --from FILE "
                          f"--as {card.name}` (FILE: {card.source}; licence: {card.licence})")
    raise IsplabError(f"weights {card.name!r} are missing from this isplab ({card.path()}); reinstall it")


def load_pretrained_into(model: nn.Module, name: str, overrides: dict[str, Any]) -> nn.Module:
    """Load the weights of card ``name`` into ``model`` (built with ``overrides``, which must match the weights'
    ``model_kwargs``)."""
    path = pretrained_path(name)
    state = load_checkpoint(path)
    if dict(state.get("model_kwargs", {})) != dict(overrides):
        raise IsplabError(f"{path}: pretrained weights are for {state['model_name']} with "
                          f"{state.get('model_kwargs', {})}, not {overrides}; create the model without overrides")
    return load_weights(model, state["model"], path, state["model_name"])


def best_pretrained() -> str:
    """The shipped model with the highest PSNR on the embedded test photos (its card's ``scores``)."""
    from isplab.models.cards import list_cards

    shipped = [c for c in list_cards() if c.kind == "shipped" and c.default and c.available()]
    if not shipped:
        raise IsplabError("this isplab ships no pretrained weights (isplab/weights/ is empty); pass --weights")
    return max(shipped, key=lambda c: c.metadata().get("scores", {}).get("test", {})
               .get("psnr", float("-inf"))).model


def resolve_weights(spec: str | Path) -> Path:
    """A weights spec -> its file: ``pretrained:MODEL[.TAG]`` -> the card's file, anything else -> the path."""
    text = str(spec)
    if text.startswith(PRETRAINED_PREFIX):
        return pretrained_path(text[len(PRETRAINED_PREFIX):])
    return Path(spec)


def init_from(model: nn.Module, spec: str | Path, name: str) -> Path:
    """Load the weights of ``spec`` (a checkpoint or ``pretrained:NAME``) into ``model`` (registered as
    ``name``) to fine-tune it; returns the file. Weights of another model are an error naming both."""
    path = resolve_weights(spec)
    state = load_checkpoint(path)
    if state["model_name"] != name:
        raise IsplabError(f"{path}: holds {state['model_name']} weights, not {name}; "
                          f"initialise {name} from weights of {name} (e.g. pretrained:{name})")
    load_weights(model, state["model"], path, name)
    return path


def load_model_from_checkpoint(spec: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Build the model of a checkpoint (path or ``pretrained:NAME``), load its weights and return
    ``(model in eval mode, checkpoint dict)``; the dict's ``raw_domain`` is always filled in."""
    path = resolve_weights(spec)
    state = load_checkpoint(path)
    try:
        model = create_model(state["model_name"], **state.get("model_kwargs", {}))
    except IsplabError as exc:
        raise IsplabError(f"{path}: {exc}") from None
    load_weights(model, state["model"], path, state["model_name"])
    state["raw_domain"] = raw_domain(state, path).to_dict()
    return model.eval(), state

