"""Unpaired training: raws of the camera and good RGB photos of *other* scenes, no aligned pair needed.

The batch is ``(raw, photos)`` from :class:`~isplab.data.unpaired.UnpairedStream` (``data.unpaired``): the
photos are never the rendering of the raws. The generator (the registered ISP model) is trained on

* **structure**: L1 between the luma of its output and the luma of the classical ISP's rendering of the same
  raw (bilinear demosaicing, :func:`classic_reference`). Luma only: the classical colours (grey-world white
  balance) are what the photos must correct;
* **colour**: L1 between the per-channel mean and spread of its ``1/scale`` output and of the photos
  (:func:`colour_stats`), a dataset-level match of the colour rendering;
* **adversarial**: two registered patch discriminators (:mod:`isplab.models.discriminators`) with the
  relativistic pairing loss and R1/R2 penalties (R3GAN, as the CVPRW 2025 method): ``colour`` judges the
  ``1/scale`` images, ``texture`` the full-resolution luma detail (:func:`high_pass`). Their weight ramps
  up linearly over ``warmup`` steps of the stage;
* **pairs** (semi-supervised, ``pairs: N``): the stage's losses on ``N`` aligned pairs, times ``pair_weight``
  (embedded data: ``N`` fixed crops of the raw-side photos; a paired ``data.path``: its first ``N`` training
  pairs; or ``pairs_data``: the first ``N`` pairs of that folder).

Generator and discriminators learn in one backward pass: a discriminator's loss sees detached images, the
generator's adversarial loss a frozen copy of the discriminator's parameters, so each network gets only its
own gradient. The discriminators are trained by the run's Adam in a parameter group of their own
(``disc_lr``, ``disc_betas``): they, their Adam state and the fixed pairs' seed are in every checkpoint, so
``--resume`` continues exactly; under ``torchrun`` their gradients are averaged like every objective's.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from isplab.errors import IsplabError
from isplab.losses import CombinedLoss
from isplab.models.discriminators import create_discriminator
from isplab.train.objectives.base import Objective, finest_output, register_objective
from isplab.train.objectives.unpaired_terms import (
    colour_stats,
    discriminator_loss,
    generator_loss,
    high_pass,
    low_res,
)


def _pairs_source(cfg: Any, count: int, folder: str | None) -> Any:
    """The ``count`` aligned pairs of a semi-supervised run (see the module docstring)."""
    from isplab.data.unpaired import PAIRS_SALT, FixedPairs
    from isplab.train.data import DEFAULT_PATCH, embedded_stream, first_pairs, is_pairs_folder

    data = cfg.data
    root = folder or data.path
    if root is None:
        raw, rgb = embedded_stream(data, cfg.seed + PAIRS_SALT, data.unpaired.raw_photos).batch(0, count)
        return FixedPairs(raw, rgb, cfg.seed, data.augment)
    if not is_pairs_folder(root):
        raise IsplabError(f"{root}: unpaired option pairs: {count} needs aligned pairs, and this is a folder of "
                          "raw files. Set pairs_data to a paired dataset folder of the camera")
    from isplab.data.sources import FolderStream
    from isplab.data.splits import folder_splits

    parts = folder_splits(root, data.val_fraction, data.white_level)
    few = first_pairs(parts.train, count)
    few.validate()
    return FolderStream(few, patch=data.patch or DEFAULT_PATCH, augment=data.augment, seed=cfg.seed, salt=0x7061)


@register_objective("unpaired")
class Unpaired(Objective):
    """Structure + colour + adversarial (+ a few pairs) without aligned data; see the module docstring."""

    def __init__(self, cfg: Any, model: nn.Module, stage: Any, scale: int = 4, structure_weight: float = 1.0,
                 colour_weight: float = 1.0, colour_adv_weight: float = 0.05, texture_adv_weight: float = 0.02,
                 warmup: int = 200, disc: str = "patch", disc_lr: float = 2e-4,
                 disc_betas: tuple[float, float] = (0.5, 0.99), gamma: float = 1.0, pairs: int = 0,
                 pairs_data: str | None = None, pair_weight: float = 1.0, wb_lr: float = 0.02,
                 **kwargs: Any) -> None:
        super().__init__(cfg, model, stage, **kwargs)
        if cfg.data.unpaired is None:
            raise IsplabError("objective unpaired needs unpaired data: set data.unpaired ({} for the embedded "
                              "photos, or photos: DIR) in the config")
        if scale < 2 or scale % 2:
            raise IsplabError(f"unpaired option scale must be an even factor >= 2, got {scale}")
        self.scale, self.warmup, self.gamma = int(scale), int(warmup), float(gamma)
        self.weights = {"structure": float(structure_weight), "colour": float(colour_weight),
                        "colour_adv": float(colour_adv_weight), "texture_adv": float(texture_adv_weight)}
        self.disc_lr, self.disc_betas = float(disc_lr), tuple(float(b) for b in disc_betas)
        self.wb_lr = float(wb_lr)
        self.colour_disc = create_discriminator(disc, in_channels=3)
        self.texture_disc = create_discriminator(disc, in_channels=1)
        self.reference = ClassicReference(cfg)
        self.pair_weight = float(pair_weight)
        self.pairs = _pairs_source(cfg, int(pairs), pairs_data) if pairs else None
        self.loss = CombinedLoss(stage.losses)
        index = next(i for i, s in enumerate(cfg.stages) if s is stage)
        self.start = sum(s.steps for s in cfg.stages[:index])

    def param_groups(self) -> list[dict[str, Any]]:
        """The discriminators' and the reference white balance's own Adam settings (the engine's hook)."""
        params = [*self.colour_disc.parameters(), *self.texture_disc.parameters()]
        return [{"params": params, "lr": self.disc_lr, "betas": self.disc_betas},
                {"params": [self.reference.log_gains], "lr": self.wb_lr}]

    def forward(self, model: nn.Module, raw: torch.Tensor, photos: torch.Tensor, step: int):
        fake = finest_output(model(raw))
        s, w = self.scale, self.weights
        ramp = min(1.0, (step - self.start + 1) / self.warmup) if self.warmup else 1.0
        fake_low, real_low = low_res(fake, s), low_res(photos, s)
        reference = self.reference(raw)
        terms = {"structure": F.l1_loss(fake, reference.detach()),
                 "colour": F.l1_loss(colour_stats(low_res(reference, s), self.world),
                                     colour_stats(real_low, self.world))}
        fake_detail, real_detail = high_pass(fake), high_pass(photos)
        terms["colour_adv"] = generator_loss(self.colour_disc, real_low, fake_low)
        terms["texture_adv"] = generator_loss(self.texture_disc, real_detail, fake_detail)
        total = sum(w[k] * (ramp if k.endswith("_adv") else 1.0) * terms[k] for k in w)
        d_colour, acc_colour = discriminator_loss(self.colour_disc, real_low, fake_low, self.gamma)
        d_texture, acc_texture = discriminator_loss(self.texture_disc, real_detail, fake_detail, self.gamma)
        total = total + d_colour + d_texture
        gains = self.reference.gains()
        terms.update(d_colour=d_colour, d_texture=d_texture, d_colour_acc=acc_colour, d_texture_acc=acc_texture,
                     wb_red=gains[0], wb_blue=gains[2])
        if self.pairs is not None:
            raw_p, rgb_p = (x.to(raw.device) for x in self.shard(*self.pairs.batch(step, self.world * len(raw))))
            paired, parts = self.loss(finest_output(model(raw_p)), rgb_p)
            total = total + self.pair_weight * paired
            terms.update({f"pairs/{k}": v for k, v in parts.items()})
        return total, {k: v.detach() for k, v in terms.items()}


class ClassicReference(nn.Module):
    """The classical ISP for ``cfg.data`` (:func:`~isplab.train.data.classic_for`: the camera matrix and
    exposure the data carries) with bilinear demosaicing and a *learned* global white balance (log R and B
    gains, the only parameters) instead of a per-image estimate: packed raw ``(N, 4, h, w)`` -> sRGB
    ``(N, 3, 2h, 2w)``, differentiable in the gains. Bilinear demosaicing is linear per colour plane, so
    the gains are applied after it."""

    def __init__(self, cfg: Any) -> None:
        super().__init__()
        from isplab.train.data import classic_for

        isp = classic_for(cfg.data)
        self.register_buffer("ccm", isp.ccm)
        self.exposure = isp.exposure
        self.log_gains = nn.Parameter(torch.zeros(2))

    def gains(self) -> torch.Tensor:
        """RGB gains ``(3,)`` (green 1)."""
        return torch.cat([self.log_gains[:1].exp(), self.log_gains.new_ones(1), self.log_gains[1:].exp()])

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        from isplab.classic import apply_ccm, auto_exposure, demosaic
        from isplab.colour import smoothstep, srgb_gamma

        cam = demosaic(packed.detach().clamp(0, 1).cpu(), "bilinear").to(packed)
        rgb = (cam * self.gains().view(1, 3, 1, 1)).clamp(0, 1)
        if self.ccm is not None:
            rgb = apply_ccm(rgb, self.ccm)
        gain = auto_exposure(rgb.detach()).view(-1, 1, 1, 1) if self.exposure is None else self.exposure
        return smoothstep(srgb_gamma((rgb * gain).clamp(0, 1)))
