"""The module that is actually converted: NHWC ``raw`` in, NHWC ``rgb`` out, finest output only.

Export-only module swaps live here too: :class:`ExportPReLU` replaces ``nn.PReLU`` in the converted copy so
each one reaches the ``.tflite`` as a single ``PRELU`` op (litert-torch would otherwise decompose it into
``RELU``, ``SUB`` and two ``MUL``); models themselves stay plain PyTorch.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from isplab.models.ops import finest_output

#: Signature names of the exported model's input and output (AI Benchmark ignores them; humans don't).
INPUT_NAME, OUTPUT_NAME = "raw", "rgb"


# Opaque under torch.export: litert-torch's layout pass moves ``prelu`` to NHWC as ``prelu_nhwc`` (like a
# convolution, so no transposes appear around it) and that lowers to one TFLite PRELU; see
# isplab.export.lowerings. Eager runs never reach these ops.
@torch.library.custom_op("isplab::prelu", mutates_args=())
def prelu(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """PReLU on NCHW ``x (N, C, H, W)`` with per-channel ``alpha (C,)``."""
    return F.prelu(x, alpha)


@prelu.register_fake
def _(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


@torch.library.custom_op("isplab::prelu_nhwc", mutates_args=())
def prelu_nhwc(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """TFLite ``PRELU`` on NHWC: ``x`` where ``x >= 0`` else ``alpha * x``; ``alpha (1, 1, C)`` broadcasts."""
    return torch.where(x >= 0, x, x * alpha)


@prelu_nhwc.register_fake
def _(x: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class ExportPReLU(nn.Module):
    """``nn.PReLU`` with the same slope parameter; under ``torch.export`` a 4-D input runs as the opaque
    ``isplab::prelu``. Eager and non-4-D inputs run ``F.prelu``, so values never change."""

    def __init__(self, prelu: nn.PReLU):
        super().__init__()
        self.weight = prelu.weight  # shared, not copied: (C,) or (1,) for one slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.compiler.is_exporting() or x.dim() != 4:
            return F.prelu(x, self.weight)
        # The GPU delegate wants a per-channel constant, so a shared slope is broadcast to C.
        return prelu(x, self.weight.expand(x.shape[1]))


def with_export_modules(model: nn.Module) -> nn.Module:
    """``model`` with every ``nn.PReLU`` swapped for :class:`ExportPReLU`: a deep copy when there is
    anything to swap (the caller's model is never modified), else ``model`` itself."""
    if not any(isinstance(m, nn.PReLU) for m in model.modules()):
        return model
    model = copy.deepcopy(model)
    targets = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.PReLU)]
    for name, prelu in targets:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        if not attr:  # the model itself is a PReLU
            return ExportPReLU(prelu)
        setattr(parent, attr, ExportPReLU(prelu))
    return model


class ExportWrapper(nn.Module):
    """``raw (N, h, w, 4)`` -> ``{"rgb": (N, 2h, 2w, 3)}`` around an NCHW isplab model.

    The permutes cancel against the layout transposes the converter inserts around convolutions, so
    the ``.tflite`` has NHWC I/O without extra ``TRANSPOSE`` ops; the dict names the signature output.
    With ``native_prelu``, ``nn.PReLU`` layers run as :class:`ExportPReLU` (on a copy; ``model`` is not
    modified).
    """

    def __init__(self, model: nn.Module, native_prelu: bool = True):
        super().__init__()
        self.model = with_export_modules(model) if native_prelu else model

    def forward(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        rgb = finest_output(self.model(raw.permute(0, 3, 1, 2)))
        return {OUTPUT_NAME: rgb.permute(0, 2, 3, 1)}
