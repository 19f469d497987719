"""Exponential moving average of the model's weights (config ``ema: {decay: 0.999}``; 0 disables it).

After every optimiser step ``shadow = decay * shadow + (1 - decay) * weight`` for each floating-point
parameter and buffer (integer buffers are copied). With EMA on, validation (and so ``best.pt``) runs on the
EMA weights, and checkpoints store the EMA weights under ``model`` (what ``evaluate``/``export`` load) and the
live weights under ``live_model`` (what ``--resume`` continues from), plus the shadow under ``ema``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class WeightEMA:
    """EMA of ``model.state_dict()``; a no-op (``enabled`` False) when ``decay`` is 0."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"ema.decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()} if decay else {}

    @property
    def enabled(self) -> bool:
        return self.decay > 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        if not self.enabled:
            return
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                self.shadow[name].lerp_(value, 1.0 - self.decay)
            else:
                self.shadow[name].copy_(value)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Load a saved shadow onto the device of the current one (checkpoints load on the CPU)."""
        if self.enabled and state:
            self.shadow = {k: v.detach().to(self.shadow[k].device, copy=True) for k, v in state.items()}

    def weights(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """What a checkpoint's ``model`` entry holds: the EMA weights when enabled, else the live ones."""
        return self.state_dict() if self.enabled else model.state_dict()

    @contextmanager
    def swapped(self, model: nn.Module) -> Iterator[nn.Module]:
        """``model`` temporarily carrying the EMA weights (e.g. for validation); live weights restored after."""
        if not self.enabled:
            yield model
            return
        live = {k: v.detach().clone() for k, v in model.state_dict().items()}
        model.load_state_dict(self.shadow)
        try:
            yield model
        finally:
            model.load_state_dict(live)
