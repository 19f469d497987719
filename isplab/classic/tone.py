"""Tone stages on images in [0, 1]: exposure, the sRGB transfer function, and a global tone curve.

>>> import torch
>>> tone_curve(torch.tensor([0.25]), [0.0, 0.8, 1.0])  # knots at 0, 0.5, 1
tensor([0.4000])
>>> float(auto_exposure(torch.full((1, 3, 2, 2), 0.09))[0])
2.0
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

#: Mean linear luminance :func:`auto_exposure` brings a frame to (18% grey, the photographic middle grey).
MIDDLE_GREY = 0.18

_LUMA = (0.2126, 0.7152, 0.0722)  # linear sRGB -> Y


def auto_exposure(linear: Tensor, target: float = MIDDLE_GREY, max_gain: float = 8.0) -> Tensor:
    """Per-image gain ``(N,)`` bringing the mean luminance of linear sRGB ``(N, 3, H, W)`` to ``target``."""
    luma = torch.tensor(_LUMA, dtype=linear.dtype, device=linear.device).view(1, 3, 1, 1)
    mean = (linear.clamp(0, 1) * luma).sum(1).mean(dim=(1, 2))
    return (target / mean.clamp_min(1e-6)).clamp(max=max_gain)


def tone_curve(x: Tensor, curve: Tensor | Sequence[float]) -> Tensor:
    """Piecewise-linear curve through ``curve[k]`` at inputs ``k / (K - 1)``, ``K = len(curve) >= 2``.

    ``x`` is clipped to [0, 1] first. Works on any shape, differentiable in ``x`` (and in ``curve``).
    """
    lut = torch.as_tensor(curve, dtype=x.dtype, device=x.device)
    if lut.ndim != 1 or lut.numel() < 2:
        raise ValueError(f"a tone curve is a 1-D list of >= 2 values, got shape {tuple(lut.shape)}")
    pos = x.clamp(0.0, 1.0) * (lut.numel() - 1)
    lo = pos.floor().clamp(max=lut.numel() - 2).long()
    frac = pos - lo
    return lut[lo] + frac * (lut[lo + 1] - lut[lo])
