"""Tone stages on images in [0, 1]: sRGB transfer function (and its inverse), optional tone curve.

>>> import torch
>>> srgb_gamma(torch.tensor([0.0, 0.18, 1.0]))
tensor([0.0000, 0.4614, 1.0000])
>>> tone_curve(torch.tensor([0.25]), [0.0, 0.8, 1.0])  # knots at 0, 0.5, 1
tensor([0.4000])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

_SRGB_LINEAR_LIMIT = 0.0031308


def srgb_gamma(linear: Tensor) -> Tensor:
    """Linear -> sRGB-encoded (IEC 61966-2-1). Input clipped to [0, 1]; differentiable."""
    x = linear.clamp(0.0, 1.0)
    # The power branch is evaluated everywhere by torch.where: keep its input away from 0 so its
    # gradient stays finite (an inf there would turn the masked-out gradient into NaN).
    power = 1.055 * x.clamp_min(_SRGB_LINEAR_LIMIT).pow(1 / 2.4) - 0.055
    return torch.where(x <= _SRGB_LINEAR_LIMIT, 12.92 * x, power)


def srgb_degamma(encoded: Tensor) -> Tensor:
    """sRGB-encoded -> linear, the inverse of :func:`srgb_gamma`."""
    x = encoded.clamp(0.0, 1.0)
    power = ((x.clamp_min(0.04045) + 0.055) / 1.055).pow(2.4)
    return torch.where(x <= 0.04045, x / 12.92, power)


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
