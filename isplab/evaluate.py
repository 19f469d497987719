"""Scoring a model on a dataset the way the challenge did: PSNR and SSIM per image, then averaged."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from isplab.metrics import psnr, ssim
from isplab.models.ops import finest_output


@torch.no_grad()
def evaluate(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    dataset: Dataset,
    batch_size: int = 8,
    progress: bool = False,
) -> dict[str, float]:
    """Mean per-image PSNR and SSIM of ``model(raw)`` clipped to [0, 1] against the targets.

    Returns ``{"psnr": dB, "ssim": ..., "n": images}``.
    """
    if isinstance(model, nn.Module):
        model.eval()
    sums = {"psnr": 0.0, "ssim": 0.0}
    n = 0
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    for raw, target in tqdm(loader, desc="eval", disable=not progress, unit="batch"):
        pred = finest_output(model(raw)).clamp(0, 1)
        k = raw.shape[0]
        sums["psnr"] += float(psnr(pred, target)) * k
        sums["ssim"] += float(ssim(pred, target)) * k
        n += k
    if n == 0:
        raise ValueError("cannot evaluate on an empty dataset")
    return {"psnr": sums["psnr"] / n, "ssim": sums["ssim"] / n, "n": float(n)}
