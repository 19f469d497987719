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

import io
import pickle
import re
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import nn

from isplab.atomic import write_atomic
from isplab.camera.profile import ISPLAB_DOMAIN, RawDomain
from isplab.errors import IsplabError, first_line, quote
from isplab.integrity import verify_listed
from isplab.models.registry import create_model, list_models

PRETRAINED_PREFIX = "pretrained:"


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Save ``state`` atomically (a crash mid-write never leaves a truncated file).

    A model checkpoint without a ``raw_domain`` gets isplab's default (black 0, white 1020, neutral
    unknown), so every checkpoint says which raw domain its model expects.
    """
    if "model_name" in state and "raw_domain" not in state:
        state = {**state, "raw_domain": ISPLAB_DOMAIN.to_dict()}
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
    if problem:
        raise IsplabError(f"{path}: damaged checkpoint: {problem}. Re-export or re-train it")
    return state


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint dict of ``path``, checked: readable as data only, an isplab checkpoint, every tensor
    finite; shipped weights also match their recorded checksum."""
    path = Path(path)
    if not path.is_file():
        raise IsplabError(f"{path}: checkpoint not found. Pass the .pt file written by `isplab train` "
                          "(RUNDIR/checkpoints/last.pt or best.pt) or by `isplab import`, or pretrained:NAME "
                          f"({', '.join(list_models(pretrained=True)) or 'none shipped yet'})")
    _verify_if_shipped(path)
    state = _check_fields(load_data_only(path), path)
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


# ---- pretrained weights shipped in the package ----------------------------------------------------------


def _packaged(name: str) -> Path:
    return _shipped_folder() / f"{name}.pt"


def _shipped_folder() -> Path:
    return Path(str(resources.files("isplab").joinpath("weights")))


def _verify_if_shipped(path: Path) -> None:
    """Shipped weights must match ``isplab/weights/SHA256SUMS`` (hashed once per file version)."""
    if path.resolve().parent == _shipped_folder().resolve():
        verify_listed(path, "reinstall isplab, or restore isplab/weights/ (`git checkout isplab/weights`); "
                            "tools/pretrain.py rewrites the manifest with the weights")


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
    try:
        model = create_model(state["model_name"], **state.get("model_kwargs", {}))
    except IsplabError as exc:
        raise IsplabError(f"{path}: {exc}") from None
    load_weights(model, state["model"], path, state["model_name"])
    state["raw_domain"] = raw_domain(state, path).to_dict()
    return model.eval(), state

