"""Masked raw recovery warm-up (Multimedia, report section 4.2): an MAE-like auxiliary task.

The packed raw ``(N, 4, h, w)`` is split into ``patch x patch`` tiles (on the packed grid, all four CFA
planes together: a 3x3 packed tile is a 6x6 mosaic tile); ``ratio`` of the tiles of every image are
zeroed. The model sees the masked raw and is trained on two tasks at once:

* RAW-to-RGB: the stage's losses on ``model(masked_raw)`` against the target;
* recovery: a light objective-owned head maps the model's RGB ``(N, 3, 2h, 2w)`` back to packed raw
  ``(N, 4, h, w)`` (2x2 stride-2 conv -> ReLU -> 3x3 conv, i.e. a learned inverse ISP); L1 between its
  output and the *unmasked* raw on the masked pixels only, times ``recovery_weight``.

The head is why no model change is needed: every registered model outputs RGB, and recovering the raw
from it forces the RGB to keep the information the masked tiles need (defective-pixel robustness is
the point the team makes). The head trains jointly and is checkpointed with the objective; it is
dropped after the stage (inference never uses it). The mask of step ``s`` is a pure function of
``(cfg.seed, s)`` so a resumed run masks exactly as an uninterrupted one; with ``N`` processes it is drawn
for the global batch and each rank takes its slice, so the run masks exactly as one process would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from isplab.errors import IsplabError
from isplab.losses import CombinedLoss
from isplab.train.objectives.base import Objective, finest_output, register_objective


def patch_mask(shape: tuple[int, int, int], patch: int, ratio: float, seed: int, step: int) -> torch.Tensor:
    """Float mask ``(N, 1, h, w)``: 1 on masked tiles. Exactly ``round(ratio * tiles)`` tiles per image.

    Tiles are ``patch x patch`` on a ``ceil(h/patch) x ceil(w/patch)`` grid (edge tiles are clipped).
    Deterministic in ``(seed, step)``.
    """
    n, h, w = shape
    gh, gw = -(-h // patch), -(-w // patch)
    tiles = gh * gw
    k = int(round(ratio * tiles))
    rng = np.random.default_rng([seed, step, 0x6D61736B])  # "mask": a stream of its own
    ranks = rng.random((n, tiles)).argsort(axis=1).argsort(axis=1)  # a random permutation per image
    grid = torch.from_numpy((ranks < k).astype(np.float32)).reshape(n, 1, gh, gw)
    return grid.repeat_interleave(patch, dim=2).repeat_interleave(patch, dim=3)[..., :h, :w]


class RecoveryHead(nn.Sequential):
    """RGB ``(N, 3, 2h, 2w)`` -> packed raw ``(N, 4, h, w)``: a learned inverse ISP, kept deliberately light."""

    def __init__(self, channels: int = 32):
        super().__init__(nn.Conv2d(3, channels, 2, stride=2), nn.ReLU(), nn.Conv2d(channels, 4, 3, padding=1))


@register_objective("masked_raw")
class MaskedRaw(Objective):
    """Stage losses on ``model(masked raw)`` + ``recovery_weight`` x L1 of the recovered masked raw."""

    def __init__(self, cfg: Any, model: nn.Module, stage: Any, patch: int = 3, ratio: float = 0.5,
                 recovery_weight: float = 1.0, head_channels: int = 32, **kwargs: Any) -> None:
        super().__init__(cfg, model, stage, **kwargs)
        if patch < 1 or not 0.0 < ratio < 1.0:
            raise IsplabError(f"masked_raw needs patch >= 1 and 0 < ratio < 1, got patch={patch}, ratio={ratio}")
        self.patch, self.ratio, self.recovery_weight, self.seed = patch, ratio, recovery_weight, cfg.seed
        self.loss = CombinedLoss(stage.losses)
        self.head = RecoveryHead(head_channels)

    def forward(self, model: nn.Module, raw: torch.Tensor, target: torch.Tensor, step: int):
        n, _, h, w = raw.shape
        mask, = self.shard(patch_mask((self.world * n, h, w), self.patch, self.ratio, self.seed, step).to(raw))
        rgb = finest_output(model(raw * (1 - mask)))
        task, terms = self.loss(rgb, target)
        recovered = self.head(rgb)
        if recovered.shape != raw.shape:  # odd RGB sizes: align to the raw grid
            recovered = F.interpolate(recovered, size=(h, w), mode="bilinear", align_corners=False)
        masked = mask.expand_as(raw)
        recovery = ((recovered - raw).abs() * masked).sum() / masked.sum().clamp_min(1)
        return task + self.recovery_weight * recovery, {**terms, "recovery_l1": recovery.detach()}
