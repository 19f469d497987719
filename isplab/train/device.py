"""Where a run computes and at what precision: ``device: auto|cpu|cuda`` and ``amp: none|bf16|fp16``.

``auto`` takes the GPU when torch sees one, else the CPU; under ``torchrun`` each process takes
``cuda:LOCAL_RANK``. Batches reach a GPU from page-locked (pinned) host memory by asynchronous copies.
Mixed precision autocasts the forward pass and the loss to bfloat16 or float16 (weights, gradients and the
optimiser stay float32); fp16 adds a gradient scaler, whose state is checkpointed so resume stays exact.
Both modes run on CPU too (torch 2.x autocasts convolutions on CPU), which is how they are tested here.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from isplab.errors import IsplabError

DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("none", "bf16", "fp16")
_AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str, local_rank: int = 0, option: str = "device") -> torch.device:
    """``auto`` / ``cpu`` / ``cuda`` -> the torch device of this process (``cuda:local_rank``).

    Raises :class:`IsplabError` naming the fix when ``cuda`` is asked for and torch sees no GPU."""
    if name not in DEVICES:
        raise IsplabError(f"{option} {name!r}: unknown device; use one of {', '.join(DEVICES)}")
    cuda = torch.cuda.is_available()
    if name == "cuda" and not cuda:
        build = (f"this torch {torch.__version__} is a CPU-only build" if torch.version.cuda is None
                 else f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no usable GPU")
        raise IsplabError(f"{option} cuda: {build}. To fix: run where nvidia-smi lists a GPU, with a CUDA build of "
                          "torch (pytorch.org/get-started) and CUDA_VISIBLE_DEVICES unset or naming it; or use "
                          "--device cpu (or auto)")
    if name == "cpu" or not cuda:
        return torch.device("cpu")
    return torch.device("cuda", local_rank)


@dataclass(frozen=True)
class HostToDevice:
    """How batches reach ``device``: on CUDA from pinned host memory by asynchronous (``non_blocking``) copies,
    which overlap the copy with the previous step's kernels; on CPU they stay where they are."""

    device: torch.device

    @property
    def pinned(self) -> bool:
        return self.device.type == "cuda"

    def __call__(self, x: Tensor, memory_format: torch.memory_format = torch.contiguous_format) -> Tensor:
        return x.to(self.device, memory_format=memory_format, non_blocking=self.pinned)


class MixedPrecision:
    """Autocast of the forward pass + loss (``amp: bf16|fp16``) and, for fp16, the gradient scaler.

    Use: ``with amp.autocast(): loss = ...``; ``amp.backward(loss)``; ``amp.step(optimizer)``. With ``none``
    all three are the plain float32 calls."""

    def __init__(self, mode: str, device: torch.device, option: str = "amp") -> None:
        if mode not in AMP_MODES:
            raise IsplabError(f"{option} {mode!r}: unknown mode; use one of {', '.join(AMP_MODES)}")
        if mode == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise IsplabError(f"{option} bf16: {torch.cuda.get_device_name(device)} has no bfloat16 support "
                              "(needs an Ampere or newer GPU). To fix: use --amp fp16")
        self.mode, self.device_type = mode, device.type
        self.scaler = torch.amp.GradScaler(device.type) if mode == "fp16" else None

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def autocast(self) -> AbstractContextManager[Any]:
        return torch.autocast(self.device_type, dtype=_AMP_DTYPES.get(self.mode), enabled=self.enabled)

    def backward(self, loss: Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """``optimizer.step()``; with fp16 through the scaler, which skips a step whose gradients overflowed
        and lowers the scale (the normal start of an fp16 run, not a divergence)."""
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()

    @property
    def checks_gradients(self) -> bool:
        """Whether a non-finite gradient means divergence: not under fp16 scaling, where it means a skipped step."""
        return self.scaler is None

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
