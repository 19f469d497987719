"""The module that is actually converted: NHWC ``raw`` in, NHWC ``rgb`` out, finest output only."""

from __future__ import annotations

import torch
from torch import nn

from isplab.models.ops import finest_output

#: Signature names of the exported model's input and output (AI Benchmark ignores them; humans don't).
INPUT_NAME, OUTPUT_NAME = "raw", "rgb"


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
