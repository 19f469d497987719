"""Checkpoints and weights: the one loader of models from files, and the pretrained-weights lookup.

A checkpoint is a torch file holding a dict with ``model_name``, ``model_kwargs``, ``model`` (state dict),
``raw_domain`` (the :class:`~isplab.camera.profile.RawDomain` the model was trained in, as a plain dict)
and, for training runs, ``step``, ``optimizer``, ``scheduler``, ``rng``, ``config``. Weights-only
checkpoints (``isplab import``, pretrained files) carry the first four.

Weights are named by a *spec*: a checkpoint path, or ``pretrained:NAME`` for the weights shipped in the
package (``isplab/weights/NAME.pt``, see ``list_models(pretrained=True)``).

>>> resolve_weights("runs/a/checkpoints/best.pt").name
'best.pt'
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from isplab.atomic import write_atomic
from isplab.camera.profile import ISPLAB_DOMAIN, RawDomain
from isplab.errors import IsplabError
from isplab.models.registry import create_model, list_models

PRETRAINED_PREFIX = "pretrained:"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Save ``state`` atomically (a crash mid-write never leaves a truncated file).

    A model checkpoint without a ``raw_domain`` gets isplab's default (black 0, white 1020, neutral
    unknown), so every checkpoint says which raw domain its model expects.
    """
    if "model_name" in state and "raw_domain" not in state:
        state = {**state, "raw_domain": ISPLAB_DOMAIN.to_dict()}
    return write_atomic(path, lambda f: torch.save(state, f))


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


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict of ``path``, checked: readable, an isplab checkpoint, every tensor finite."""
    path = Path(path)
    if not path.is_file():
        raise IsplabError(f"{path}: checkpoint not found. Pass the .pt file written by `isplab train` "
                          "(RUNDIR/checkpoints/last.pt or best.pt) or by `isplab import`, or pretrained:NAME "
                          f"({', '.join(list_models(pretrained=True)) or 'none shipped yet'})")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except PermissionError:
        raise IsplabError(f"{path}: cannot read this file (permission denied). Fix its permissions") from None
    except Exception as exc:  # torch raises many types for corrupt files
        raise IsplabError(f"{path}: not a readable isplab checkpoint ({exc.__class__.__name__}). "
                          "Re-export or re-train it") from None
    if not isinstance(state, dict) or "model_name" not in state or "model" not in state:
        raise IsplabError(f"{path}: not an isplab checkpoint (no model_name/model keys). "
                          "Convert foreign weights with `isplab import`")
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
    return ISPLAB_DOMAIN if data is None else RawDomain.from_dict(data, str(source))


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


# ---- pretrained weights shipped in the package ----------------------------------------------------------


def _packaged(name: str) -> Path:
    return Path(str(resources.files("isplab").joinpath("weights", f"{name}.pt")))


def has_pretrained(name: str) -> bool:
    """Whether the package ships weights for registered model ``name``."""
    return _packaged(name).is_file()


def pretrained_path(name: str) -> Path:
    """The shipped weights file of model ``name``; an :class:`IsplabError` naming those that exist."""
    from isplab.models.registry import model_entry

    model_entry(name)  # an unknown name says so, not "no weights"
    path = _packaged(name)
    if not path.is_file():
        shipped = ", ".join(list_models(pretrained=True)) or "none yet"
        raise IsplabError(f"no pretrained weights for {name!r} in this isplab (isplab/weights/{name}.pt). "
                          f"Pretrained models (`list_models(pretrained=True)`): {shipped}")
    return path


def load_pretrained_into(model: nn.Module, name: str, overrides: dict[str, Any]) -> nn.Module:
    """Load the shipped weights of ``name`` into ``model`` (built with ``overrides``, which must match the
    weights' ``model_kwargs``)."""
    path = pretrained_path(name)
    state = load_checkpoint(path)
    if state["model_name"] != name or dict(state.get("model_kwargs", {})) != dict(overrides):
        raise IsplabError(f"{path}: pretrained weights are for {state['model_name']} with "
                          f"{state.get('model_kwargs', {})}, not {name} with {overrides}; "
                          "create the model without overrides")
    return load_weights(model, state["model"], path, name)


def best_pretrained() -> str:
    """The shipped model with the highest PSNR on the embedded test photos (its stored ``scores``)."""
    names = list_models(pretrained=True)
    if not names:
        raise IsplabError("this isplab ships no pretrained weights (isplab/weights/ is empty); pass --weights")
    return max(names, key=lambda n: load_checkpoint(pretrained_path(n)).get("scores", {}).get("test", {})
               .get("psnr", float("-inf")))


def resolve_weights(spec: str | Path) -> Path:
    """A weights spec -> its file: ``pretrained:NAME`` -> the shipped weights, anything else -> the path."""
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
    model = create_model(state["model_name"], **state.get("model_kwargs", {}))
    load_weights(model, state["model"], path, state["model_name"])
    state["raw_domain"] = raw_domain(state, path).to_dict()
    return model.eval(), state

