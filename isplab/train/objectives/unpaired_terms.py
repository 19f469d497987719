"""The loss terms of the ``unpaired`` objective: a classical rendering at low resolution, the views the
discriminators see, colour statistics, and the relativistic adversarial losses with R1/R2 penalties.

Tensors: packed raw ``(N, 4, h, w)`` (canonical ``B, G_r, R, G_b``), RGB ``(N, 3, 2h, 2w)`` in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from isplab.classic.color import apply_ccm
from isplab.classic.tone import auto_exposure
from isplab.classic.white_balance import apply_white_balance, grey_world_gains
from isplab.colour import smoothstep, srgb_gamma

_LUMA = (0.299, 0.587, 0.114)  # Rec. 601 luma of sRGB values


def classic_low_res(packed: Tensor, scale: int, ccm: Tensor | None, exposure: float | None) -> Tensor:
    """The classical ISP's rendering of ``packed`` at ``1/scale`` of the output size ``(N, 3, 2h/s, 2w/s)``.

    At that size no demosaicing is needed: each colour plane is averaged over ``scale/2`` packed pixels
    (which also averages the noise away), then grey-world white balance, the camera matrix, exposure,
    sRGB and the S-curve, as :class:`~isplab.classic.ClassicISP` does at full size."""
    if scale % 2:
        raise ValueError(f"scale must be even (whole packed pixels), got {scale}")
    balanced = apply_white_balance(packed.clamp(0, 1), grey_world_gains(packed))
    planes = F.avg_pool2d(balanced, scale // 2) if scale > 2 else balanced
    rgb = torch.stack([planes[:, 2], (planes[:, 1] + planes[:, 3]) / 2, planes[:, 0]], dim=1)
    if ccm is not None:
        rgb = apply_ccm(rgb, ccm.to(rgb))
    gain = auto_exposure(rgb).view(-1, 1, 1, 1) if exposure is None else exposure
    return smoothstep(srgb_gamma((rgb * gain).clamp(0, 1)))


def luma(rgb: Tensor) -> Tensor:
    """``(N, 3, H, W)`` -> ``(N, 1, H, W)`` luma."""
    weights = torch.tensor(_LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * weights).sum(1, keepdim=True)


def low_res(rgb: Tensor, scale: int) -> Tensor:
    """``rgb`` average-pooled by ``scale``: its colours without noise or texture."""
    return F.avg_pool2d(rgb, scale) if scale > 1 else rgb


def high_pass(rgb: Tensor) -> Tensor:
    """The luma detail of ``rgb``: luma minus its 5x5 box mean (what a texture discriminator judges)."""
    y = luma(rgb)
    return y - F.avg_pool2d(F.pad(y, (2, 2, 2, 2), mode="replicate"), 5, stride=1)


def colour_stats(rgb: Tensor) -> Tensor:
    """Per-channel mean and standard deviation over the batch and pixels ``(6,)``."""
    flat = rgb.transpose(0, 1).flatten(1)
    return torch.cat([flat.mean(1), flat.std(1)])


def r1_penalty(disc: nn.Module, images: Tensor) -> tuple[Tensor, Tensor]:
    """``(logits, mean squared gradient norm of the logits w.r.t. the images)`` (zero-centred, R3GAN)."""
    images = images.detach().requires_grad_(True)
    logits = disc(images)
    grad, = torch.autograd.grad(logits.sum(), images, create_graph=True)
    return logits, grad.square().flatten(1).sum(1).mean()


def discriminator_loss(disc: nn.Module, real: Tensor, fake: Tensor, gamma: float) -> tuple[Tensor, Tensor]:
    """Relativistic pairing loss ``softplus(-(D(real) - D(fake)))`` + ``gamma/2 (R1 + R2)`` on detached
    images, so only ``disc`` gets its gradient; also the share of patches judged right (real above fake)."""
    if gamma > 0:
        real_logits, r1 = r1_penalty(disc, real)
        fake_logits, r2 = r1_penalty(disc, fake)
        penalty = gamma / 2 * (r1 + r2)
    else:
        real_logits, fake_logits, penalty = disc(real.detach()), disc(fake.detach()), real.new_zeros(())
    margin = real_logits - fake_logits
    return F.softplus(-margin).mean() + penalty, (margin > 0).float().mean()


def generator_loss(disc: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """``softplus(-(D(fake) - D(real)))`` through a *frozen copy* of ``disc``'s parameters: the gradient reaches
    the generator only (both losses go into one backward pass)."""
    frozen = {name: p.detach() for name, p in disc.named_parameters()}
    return F.softplus(-(functional_call(disc, frozen, (fake,)) - functional_call(disc, frozen, (real,)))).mean()
