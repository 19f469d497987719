"""Checkpoints: one torch file per save, written atomically (temp file + rename).

A checkpoint is a dict with ``model_name``, ``model_kwargs``, ``model`` (state dict) and, for training
runs, ``step``, ``optimizer``, ``scheduler``, ``rng`` and ``config``. Weights-only checkpoints (e.g. from
``isplab import``) carry just the first three.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from isplab.atomic import write_atomic
from isplab.errors import IsplabError
from isplab.models import create_model


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Save ``state`` atomically: a crash mid-write never leaves a truncated checkpoint behind."""
    return write_atomic(path, lambda f: torch.save(state, f))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise IsplabError(f"{path}: checkpoint not found. Pass the .pt file written by `isplab train` "
                          "(RUNDIR/checkpoints/last.pt or best.pt) or by `isplab import`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for corrupt files
        raise IsplabError(f"{path}: not a readable isplab checkpoint ({exc.__class__.__name__}). "
                          "Re-export or re-train it") from None
    if not isinstance(state, dict) or "model_name" not in state or "model" not in state:
        raise IsplabError(f"{path}: not an isplab checkpoint (no model_name/model keys). "
                          "Convert foreign weights with `isplab import`")
    return state


def model_checkpoint(model_name: str, model_kwargs: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """A weights-only checkpoint dict."""
    return {"model_name": model_name, "model_kwargs": dict(model_kwargs), "model": model.state_dict()}


def load_model_from_checkpoint(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Build the checkpoint's model, load its weights, and return ``(model in eval mode, checkpoint)``."""
    state = load_checkpoint(path)
    model = create_model(state["model_name"], **state.get("model_kwargs", {}))
    model.load_state_dict(state["model"])
    return model.eval(), state


def load_weights(model: nn.Module, weights: dict[str, Any], source: str | Path, claims: str) -> nn.Module:
    """``model.load_state_dict(weights)``, or one :class:`IsplabError` naming ``source``, the model the file
    claims and the first tensor that does not fit."""
    expected = model.state_dict()
    problem = next((f"{k} is missing from the file" if k not in weights else
                    f"{k} is {tuple(weights[k].shape)} in the file, {tuple(t.shape)} in the model"
                    for k, t in expected.items() if k not in weights or weights[k].shape != t.shape), None)
    extra = next((k for k in weights if k not in expected), None)
    if problem or extra:
        raise IsplabError(f"{source}: weights do not fit model {claims!r} "
                          f"({problem or f'the file has {extra}, which the model does not'}). "
                          "Pass a checkpoint of this model")
    model.load_state_dict(weights)
    return model
