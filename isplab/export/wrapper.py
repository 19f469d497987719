"""The module that is actually converted: NHWC ``raw`` in, NHWC ``rgb`` out, finest output only."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: Signature names of the exported model's input and output (AI Benchmark ignores them; humans don't).
INPUT_NAME, OUTPUT_NAME = "raw", "rgb"


def finest_output(out: Any) -> torch.Tensor:
    """The highest-resolution image tensor of a model's output.

    Plain tensors pass through; multi-level outputs (tuples, lists, dicts of tensors, as PyNET-style
    models return) give the one with the largest ``H * W`` (the first on ties).
    """
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):
        items = list(out.values())
    else:
        items = list(out) if isinstance(out, list | tuple) else []
    tensors = [finest_output(o) for o in items if isinstance(o, torch.Tensor | list | tuple | dict)]
    if not tensors:
        raise TypeError(f"model output of type {type(out).__name__} holds no tensor")
    return max(tensors, key=lambda t: t.shape[-2] * t.shape[-1])


class ExportWrapper(nn.Module):
    """``raw (N, h, w, 4)`` -> ``{"rgb": (N, 2h, 2w, 3)}`` around an NCHW isplab model.

    The permutes cancel against the layout transposes the converter inserts around convolutions, so
    the ``.tflite`` has NHWC I/O without extra ``TRANSPOSE`` ops; the dict names the signature output.
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        rgb = finest_output(self.model(raw.permute(0, 3, 1, 2)))
        return {OUTPUT_NAME: rgb.permute(0, 2, 3, 1)}
