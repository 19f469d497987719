"""The loss terms of the ``unpaired`` objective: the views the discriminators see, colour statistics, and
the relativistic adversarial losses with R1/R2 penalties.

Tensors: packed raw ``(N, 4, h, w)`` (canonical ``B, G_r, R, G_b``), RGB ``(N, 3, 2h, 2w)`` in [0, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

_LUMA = (0.299, 0.587, 0.114)  # Rec. 601 luma of sRGB values


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


def colour_stats(rgb: Tensor, world: int = 1) -> Tensor:
    """The colour rendering of a batch, independent of its brightness ``(6,)``: each channel's sum over the
    sum of luma (the average colour: a white-balance error shifts it), and the spread of each channel's
    chroma (channel - luma) over the mean luma (saturation). With ``world > 1`` processes, over the *global*
    batch (a differentiable all-reduce of the sums, as synchronised batch norm does), so a multi-process run
    computes what one process with the whole batch would."""
    y = luma(rgb)
    chroma = (rgb - y).transpose(0, 1).flatten(1)
    flat = torch.cat([rgb.transpose(0, 1).flatten(1), y.transpose(0, 1).flatten(1)])
    sums = torch.cat([flat.sum(1), chroma.sum(1), chroma.square().sum(1), flat.new_full((1,), flat.shape[1])])
    if world > 1:
        from torch.distributed.nn import all_reduce

        sums = all_reduce(sums)
    colour, luma_sum, chroma_sum, chroma_sq, count = sums[:3], sums[3], sums[4:7], sums[7:10], sums[10]
    var = (chroma_sq - chroma_sum.square() / count) / (count - 1)
    return torch.cat([colour / luma_sum, var.clamp_min(1e-12).sqrt() * count / luma_sum])


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
