"""PyTorch backends for :func:`isplab.develop.tiling.run_tiled`: a model (or isplab checkpoint) and the
classical ISP. Same :class:`~isplab.develop.tiling.Runner` contract as :class:`~.runners.TfliteRunner`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from isplab.camera.profile import RawDomain
from isplab.classic import ClassicISP, grey_world_gains
from isplab.models.ops import finest_output
from isplab.raw.readers import RawImage


class TorchRunner:
    """An ``nn.Module`` (or an isplab checkpoint) run in eval mode without gradients."""

    fixed_size = None
    default_tile = 512

    def __init__(self, model: nn.Module, name: str = "torch", domain: RawDomain | None = None):
        self.model, self.name, self.domain = model.eval(), name, domain

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> TorchRunner:
        """The checkpoint's model, with the raw domain it expects (for the camera adapter)."""
        from isplab.models.weights import load_model_from_checkpoint, raw_domain

        model, state = load_model_from_checkpoint(path)
        return cls(model, f"{state['model_name']} ({Path(path).name}, PyTorch)", raw_domain(state, path))

    def for_image(self, image: RawImage | None, packed: np.ndarray) -> TorchRunner:
        return self

    @torch.no_grad()
    def __call__(self, tile: np.ndarray) -> np.ndarray:
        return finest_output(self.model(torch.from_numpy(np.ascontiguousarray(tile)))).float().numpy()


class ClassicRunner:
    """The classical ISP with frame-level white balance: the camera's as-shot gains and colour matrix when
    the file has them, else grey-world gains measured on the whole frame (never per tile)."""

    fixed_size = None
    default_tile = 512
    name = "classical ISP"

    def __init__(self, isp: ClassicISP | None = None):
        self.isp = isp

    def for_image(self, image: RawImage | None, packed: np.ndarray) -> ClassicRunner:
        wb = image.wb_gains if image is not None else None
        ccm = image.cam_to_srgb if image is not None else None
        if wb is None:
            wb = grey_world_gains(torch.from_numpy(np.ascontiguousarray(packed))[None])[0]
        return ClassicRunner(ClassicISP(wb_gains=np.asarray(wb, dtype=np.float32), ccm=ccm))

    @torch.no_grad()
    def __call__(self, tile: np.ndarray) -> np.ndarray:
        if self.isp is None:
            raise RuntimeError("ClassicRunner needs for_image() before running tiles")
        return self.isp(torch.from_numpy(np.ascontiguousarray(tile))).numpy()
