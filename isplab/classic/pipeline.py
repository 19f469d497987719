"""The classical reference ISP: packed raw ``(N, 4, h, w)`` -> sRGB ``(N, 3, 2h, 2w)`` in [0, 1].

Stages, each in its own module: white balance on the packed planes (given gains or grey-world),
bilinear demosaic, 3x3 colour matrix, exposure gain, clip, sRGB gamma, optional tone curve. No parameters
are learned; it is a baseline row to score beside the learned models.

>>> import torch
>>> isp = ClassicISP()
>>> isp(torch.full((2, 4, 8, 8), 0.18)).shape
torch.Size([2, 3, 16, 16])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from isplab.classic.color import apply_ccm
from isplab.classic.demosaic import bilinear_demosaic
from isplab.classic.tone import srgb_gamma, tone_curve
from isplab.classic.white_balance import apply_white_balance, grey_world_gains


def _optional_buffer(value: Tensor | Sequence | None, shape: tuple[int, ...], what: str) -> Tensor | None:
    if value is None:
        return None
    tensor = torch.as_tensor(value, dtype=torch.float32)
    if tensor.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {tuple(tensor.shape)}")
    return tensor


class ClassicISP(nn.Module):
    """Classical ISP as an ``nn.Module`` (no trainable parameters), same interface as the learned models.

    Args:
        wb_gains: RGB white-balance gains ``(3,)``; ``None`` estimates grey-world gains per image.
        ccm: 3x3 colour matrix on linear camera RGB; ``None`` skips it (identity).
        gamma: apply the sRGB transfer function (``False`` keeps the output linear).
        exposure: linear gain before clipping (phone raw is often dark; 1.0 leaves it).
        curve: optional tone curve (see :func:`isplab.classic.tone.tone_curve`), applied last.
    """

    def __init__(
        self,
        wb_gains: Tensor | Sequence[float] | None = None,
        ccm: Tensor | Sequence[Sequence[float]] | None = None,
        gamma: bool = True,
        exposure: float = 1.0,
        curve: Tensor | Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        # Buffers (not plain attributes) so ``.to(device)`` and ``state_dict`` carry them.
        self.register_buffer("wb_gains", _optional_buffer(wb_gains, (3,), "wb_gains"))
        self.register_buffer("ccm", _optional_buffer(ccm, (3, 3), "ccm"))
        curve_t = None if curve is None else torch.as_tensor(curve, dtype=torch.float32)
        self.register_buffer("curve", curve_t)
        self.gamma, self.exposure = gamma, float(exposure)

    def forward(self, packed: Tensor) -> Tensor:
        gains = self.wb_gains if self.wb_gains is not None else grey_world_gains(packed)
        rgb = bilinear_demosaic(apply_white_balance(packed, gains))
        if self.ccm is not None:
            rgb = apply_ccm(rgb, self.ccm)
        rgb = (rgb * self.exposure).clamp(0.0, 1.0)
        if self.gamma:
            rgb = srgb_gamma(rgb)
        if self.curve is not None:
            rgb = tone_curve(rgb, self.curve)
        return rgb

    def extra_repr(self) -> str:
        wb = "grey-world" if self.wb_gains is None else self.wb_gains.tolist()
        return f"wb_gains={wb}, ccm={self.ccm is not None}, gamma={self.gamma}, exposure={self.exposure}"


def classic_isp(packed: Tensor, **options) -> Tensor:
    """Functional form: ``ClassicISP(**options)(packed)``; packed ``(N, 4, h, w)`` -> ``(N, 3, 2h, 2w)``."""
    return ClassicISP(**options).to(packed.device)(packed)
