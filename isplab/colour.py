"""Colour science shared by the data generator, the classical ISP and the camera tools.

Torch functions work on any shape with colour on dim ``-3`` (``(..., 3, H, W)``) and are differentiable;
values are in [0, 1]. Matrices are numpy ``(3, 3)`` (they come from metadata, not from tensors).

>>> import torch
>>> srgb_gamma(torch.tensor([0.0, 0.18, 1.0]))
tensor([0.0000, 0.4614, 1.0000])
>>> inverse_smoothstep(smoothstep(torch.tensor([0.25])))
tensor([0.2500])
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

_SRGB_LINEAR_LIMIT = 0.0031308
_SRGB_ENCODED_LIMIT = 0.04045


def srgb_gamma(linear: Tensor) -> Tensor:
    """Linear -> sRGB-encoded (IEC 61966-2-1). Input clipped to [0, 1]; differentiable."""
    x = linear.clamp(0.0, 1.0)
    # torch.where evaluates both branches: keep the power's input away from 0 so its gradient stays
    # finite (an inf there would turn the masked-out gradient into NaN).
    power = 1.055 * x.clamp_min(_SRGB_LINEAR_LIMIT).pow(1 / 2.4) - 0.055
    return torch.where(x <= _SRGB_LINEAR_LIMIT, 12.92 * x, power)


def srgb_degamma(encoded: Tensor) -> Tensor:
    """sRGB-encoded -> linear, the inverse of :func:`srgb_gamma`."""
    x = encoded.clamp(0.0, 1.0)
    power = ((x.clamp_min(_SRGB_ENCODED_LIMIT) + 0.055) / 1.055).pow(2.4)
    return torch.where(x <= _SRGB_ENCODED_LIMIT, x / 12.92, power)


def smoothstep(x: Tensor) -> Tensor:
    """The global tone curve of Brooks et al. (CVPR 2019): ``3x^2 - 2x^3`` on [0, 1]."""
    x = x.clamp(0.0, 1.0)
    return x * x * (3 - 2 * x)


def inverse_smoothstep(y: Tensor) -> Tensor:
    """Inverse of :func:`smoothstep` on [0, 1]."""
    y = y.clamp(0.0, 1.0)
    return 0.5 - torch.sin(torch.asin(1 - 2 * y) / 3)


def apply_matrix(rgb: Tensor, matrix: Tensor | np.ndarray) -> Tensor:
    """``out[..., i, :, :] = sum_j matrix[..., i, j] * rgb[..., j, :, :]``.

    ``matrix`` is ``(3, 3)`` or batched ``(N, 3, 3)`` for ``rgb`` ``(N, 3, H, W)``. No clipping.
    """
    m = torch.as_tensor(matrix, dtype=rgb.dtype, device=rgb.device)
    if m.shape[-2:] != (3, 3) or rgb.shape[-3] != 3:
        raise ValueError(f"need rgb (..., 3, H, W) and a (3, 3) or (N, 3, 3) matrix, got "
                         f"{tuple(rgb.shape)} and {tuple(m.shape)}")
    if m.ndim == 2:
        return torch.einsum("ij,...jhw->...ihw", m, rgb)
    return torch.einsum("nij,njhw->nihw", m, rgb)
