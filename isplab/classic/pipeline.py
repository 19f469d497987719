"""The classical reference ISP: packed raw ``(N, 4, h, w)`` -> sRGB ``(N, 3, 2h, 2w)`` in [0, 1].

Stages, each in its own module (as fast-openISP lays them out): white balance on the packed planes
(given gains, or a grey-world / white-patch estimate per image), demosaic (Menon 2007 by default), 3x3
colour matrix (camera RGB -> linear sRGB, when known), exposure (given, or auto: mean luminance to 18%
grey), clip, sRGB transfer, global tone curve (the smoothstep S-curve by default). No parameters are
learned and there is no denoising: it is the baseline row scored beside the learned models, and
:meth:`ClassicISP.describe` says what it knew.

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
from isplab.classic.demosaic import METHODS, demosaic
from isplab.classic.tone import auto_exposure, tone_curve
from isplab.classic.white_balance import ESTIMATORS, apply_white_balance
from isplab.colour import smoothstep, srgb_gamma


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
        wb_gains: RGB white-balance gains ``(3,)`` (e.g. a camera file's as-shot neutral); ``None`` estimates
            them per image with ``white_balance``.
        white_balance: the estimator when no gains are given: ``grey_world`` or ``white_patch``.
        ccm: 3x3 colour matrix, white-balanced camera RGB -> linear sRGB; ``None`` skips it (identity).
        exposure: linear gain before clipping; ``None`` picks one per image (mean luminance to 18% grey).
        demosaic: ``menon`` (default), ``malvar`` or ``bilinear`` (colour-demosaicing).
        tone: ``"smoothstep"`` (S-curve), ``None``, or a piecewise-linear curve (list of values on [0, 1]).
        gamma: apply the sRGB transfer function (``False`` keeps the output linear).
        ccm_source: where the matrix came from, for :meth:`describe` (e.g. ``"camera.json"``).
    """

    def __init__(
        self,
        wb_gains: Tensor | Sequence[float] | None = None,
        ccm: Tensor | Sequence[Sequence[float]] | None = None,
        exposure: float | None = 1.0,
        demosaic: str = "menon",
        white_balance: str = "grey_world",
        tone: str | Sequence[float] | None = "smoothstep",
        gamma: bool = True,
        ccm_source: str = "",
    ) -> None:
        super().__init__()
        if demosaic not in METHODS:
            raise ValueError(f"unknown demosaic method {demosaic!r}; use one of {', '.join(METHODS)}")
        if white_balance not in ESTIMATORS:
            raise ValueError(f"unknown white balance {white_balance!r}; use one of {', '.join(ESTIMATORS)}")
        if isinstance(tone, str) and tone != "smoothstep":
            raise ValueError(f"unknown tone curve {tone!r}; use 'smoothstep', None or a list of values")
        # Buffers (not plain attributes) so ``.to(device)`` and ``state_dict`` carry them.
        self.register_buffer("wb_gains", _optional_buffer(wb_gains, (3,), "wb_gains"))
        self.register_buffer("ccm", _optional_buffer(ccm, (3, 3), "ccm"))
        self.register_buffer("curve", None if tone is None or isinstance(tone, str)
                             else torch.as_tensor(tone, dtype=torch.float32))
        self.exposure = None if exposure is None else float(exposure)
        self.demosaic, self.white_balance, self.gamma, self.ccm_source = demosaic, white_balance, gamma, ccm_source
        self.smoothstep = tone == "smoothstep"

    def forward(self, packed: Tensor) -> Tensor:
        with torch.no_grad():  # in the body, not a decorator: mutation testing reaches it (docs/testing.md)
            gains = self.wb_gains if self.wb_gains is not None else ESTIMATORS[self.white_balance](packed)
            rgb = demosaic(apply_white_balance(packed.clamp(0, 1), gains), self.demosaic)
            if self.ccm is not None:
                rgb = apply_ccm(rgb, self.ccm)
            exposure = auto_exposure(rgb).view(-1, 1, 1, 1) if self.exposure is None else self.exposure
            rgb = (rgb * exposure).clamp(0.0, 1.0)
            if self.gamma:
                rgb = srgb_gamma(rgb)
            if self.smoothstep:
                rgb = smoothstep(rgb)
            elif self.curve is not None:
                rgb = tone_curve(rgb, self.curve)
        return rgb

    def describe(self) -> str:
        """What the pipeline knew and did, e.g. ``Menon 2007 (DDFAPD) demosaic, grey-world WB, camera CCM
        (camera.json), exposure x1.25, sRGB + S-curve``."""
        wb = "given WB gains" if self.wb_gains is not None else f"{self.white_balance.replace('_', '-')} WB"
        ccm = "no CCM" if self.ccm is None else f"camera CCM{f' ({self.ccm_source})' if self.ccm_source else ''}"
        exposure = "auto exposure" if self.exposure is None else f"exposure x{self.exposure:.2f}"
        tone = " + S-curve" if self.smoothstep else (" + tone curve" if self.curve is not None else "")
        return (f"{METHODS[self.demosaic]} demosaic, {wb}, {ccm}, {exposure}, "
                f"{'sRGB' if self.gamma else 'linear'}{tone}; no denoising")

    def extra_repr(self) -> str:
        return self.describe()


def classic_isp(packed: Tensor, **options) -> Tensor:
    """Functional form: ``ClassicISP(**options)(packed)``; packed ``(N, 4, h, w)`` -> ``(N, 3, 2h, 2w)``."""
    return ClassicISP(**options).to(packed.device)(packed)
