"""Domain-adversarial training (DANN-ISP, report section 4.8).

Stage 1 (source only) is a plain ``supervised`` stage on the source data (``data.path``), or this
objective without ``target_data``: then only the source pre-encoder path is trained.
Stage 2: every step also draws a target-camera batch from ``target_data`` and adds
``domain_weight`` x binary cross-entropy of the gradient-reversed domain classifier (source label 0,
target label 1), via the model's ``forward_with_domain(x, domain) -> (rgb, logits)`` (``dann_isp``).
With ``labels: true`` (few-shot, the team's public setting) the target pairs' image losses count too,
times ``target_weight``; with ``labels: false`` target RGB is never looked at.

The adversarial weight follows DANN's ramp ``lambda = 2 / (1 + exp(-10 p)) - 1`` over the stage's
progress ``p`` (``ramp: false`` keeps the model's ``lambda_``). The target batch of step ``s`` is a pure
function of ``(cfg.seed, s)`` (indices and the CFA-consistent augmentation), so resume stays exact; with
``N`` processes it is drawn for the global batch and each rank takes its slice, like the source pairs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from isplab.errors import IsplabError
from isplab.losses import CombinedLoss
from isplab.train.objectives.base import Objective, register_objective

#: Salt of the target-camera stream: independent of the source batches of the same seed.
_TARGET_SALT = 0x7467


def _target_stream(root: str, cfg: Any):
    """Target-camera batches: every pair of ``root`` (all of them: no labels are scored there), cropped and
    flipped like the source data, a pure function of ``(cfg.seed, step)``."""
    from isplab.data.sources import FolderStream
    from isplab.data.store import open_pairs

    return FolderStream(open_pairs(root), patch=cfg.data.patch, augment=cfg.data.augment, seed=cfg.seed,
                        salt=_TARGET_SALT, cache_gb=cfg.data.cache_gb)


def dann_lambda(progress: float) -> float:
    """DANN's adversarial ramp from 0 to ~1 over ``progress`` in [0, 1]."""
    return 2.0 / (1.0 + math.exp(-10.0 * progress)) - 1.0


@register_objective("domain")
class DomainAdversarial(Objective):
    def __init__(self, cfg: Any, model: nn.Module, stage: Any, target_data: str | None = None,
                 labels: bool = True, domain_weight: float = 1.0, target_weight: float = 1.0,
                 ramp: bool = True, **kwargs: Any) -> None:
        super().__init__(cfg, model, stage, **kwargs)
        if not hasattr(model, "forward_with_domain"):
            raise IsplabError(f"objective domain needs a model with forward_with_domain(x, domain) "
                              f"(dann_isp); {cfg.model} has none")
        self.loss = CombinedLoss(stage.losses)
        self.labels, self.ramp = bool(labels), bool(ramp)
        self.domain_weight, self.target_weight = float(domain_weight), float(target_weight)
        self.target = None if target_data is None else _target_stream(target_data, cfg)
        index = next(i for i, s in enumerate(cfg.stages) if s is stage)
        self.start = sum(s.steps for s in cfg.stages[:index])
        self.length = stage.steps

    def forward(self, model: nn.Module, raw: torch.Tensor, target: torch.Tensor, step: int):
        if self.ramp and self.target is not None:  # before any forward: the reversal reads it there
            model.classifier.grl.lambda_ = dann_lambda((step - self.start) / max(1, self.length))
        rgb_s, logit_s = model.forward_with_domain(raw, "source")
        total, terms = self.loss(rgb_s, target)
        if self.target is None:
            return total, terms
        raw_t, rgb_t_true = (x.to(raw.device) for x in self.shard(*self.target.batch(step, self.world * raw.shape[0])))
        rgb_t, logit_t = model.forward_with_domain(raw_t, "target")
        logits = torch.cat([logit_s, logit_t]).flatten()
        labels = torch.cat([torch.zeros(len(logit_s)), torch.ones(len(logit_t))]).to(logits)
        domain = F.binary_cross_entropy_with_logits(logits, labels)
        total = total + self.domain_weight * domain
        terms = {**terms, "domain_bce": domain.detach(),
                 "domain_acc": ((logits > 0).float() == labels).float().mean()}
        if self.labels:
            tgt, tgt_terms = self.loss(rgb_t, rgb_t_true)
            total = total + self.target_weight * tgt
            terms.update({f"target/{k}": v for k, v in tgt_terms.items()})
        return total, terms
