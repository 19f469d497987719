"""Knowledge distillation (CASIA 1st, MiAlgo; report sections 4.1 and 4.6).

A frozen teacher runs on the same batch; the student is trained on

* the stage's task losses against the target,
* ``output_weight`` x L1(student RGB, teacher RGB) (soft labels),
* ``feature_weight`` x mean over levels of L1(student level-l features, teacher level-l features)
  (CASIA: "the feature maps from each level in the TN were used as soft labels"); both models must
  support ``forward(x, return_features=True) -> (rgb, [f1, ...])`` with matching shapes.

MiAlgo's cleaning of misaligned pairs (``clean: {threshold, mode}``): a pair whose teacher error
``mean |teacher(raw) - target|`` exceeds ``threshold`` is taken as misaligned (a teacher trained on the
whole set reproduces well-aligned targets closely and misaligned ones poorly). ``mode: replace`` swaps
its target for the teacher output (the teacher's aligned rendition, the "distillation" of the report);
``mode: drop`` leaves it out of the task loss. The share of flagged pairs is logged as ``cleaned``.

The teacher comes from ``teacher: CHECKPOINT.pt`` (any ``isplab train`` / ``isplab import`` file) or, for
tests, ``teacher_model: NAME`` (+ ``teacher_kwargs``), built from the seeded RNG. It is held outside the
module tree: it is neither optimised nor saved in the run's checkpoints (a resumed run reloads it).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from isplab.errors import IsplabError
from isplab.losses import CombinedLoss
from isplab.models import create_model
from isplab.train.objectives.base import Objective, finest_output, register_objective, single_process

CLEAN_MODES = ("replace", "drop")


def load_teacher(teacher: str | None, teacher_model: str | None, teacher_kwargs: dict[str, Any]) -> nn.Module:
    """The frozen teacher (eval mode, ``requires_grad`` off) from a checkpoint path or a model name."""
    if (teacher is None) == (teacher_model is None):
        raise IsplabError("objective distill needs exactly one of teacher: CHECKPOINT.pt (a trained teacher, "
                          "e.g. runs/casia_teacher/checkpoints/best.pt) or teacher_model: NAME")
    if teacher is not None:
        from isplab.models.weights import load_model_from_checkpoint

        model, _ = load_model_from_checkpoint(teacher)
    else:
        model = create_model(teacher_model, **teacher_kwargs)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


@register_objective("distill")
class Distill(Objective):
    def __init__(self, cfg: Any, model: nn.Module, stage: Any, teacher: str | None = None,
                 teacher_model: str | None = None, teacher_kwargs: dict[str, Any] | None = None,
                 output_weight: float = 1.0, feature_weight: float = 0.0,
                 clean: dict[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(cfg, model, stage, **kwargs)
        self._teacher = [load_teacher(teacher, teacher_model, teacher_kwargs or {})]  # a list: not a submodule
        self.output_weight, self.feature_weight = float(output_weight), float(feature_weight)
        self.loss = CombinedLoss(stage.losses)
        clean = dict(clean or {})
        self.threshold = clean.pop("threshold", None)
        self.mode = clean.pop("mode", "replace")
        if clean or self.mode not in CLEAN_MODES:
            raise IsplabError(f"distill clean takes {{threshold: float, mode: {'|'.join(CLEAN_MODES)}}}, "
                              f"got extra {sorted(clean)} / mode {self.mode!r}")

    @property
    def teacher(self) -> nn.Module:
        return self._teacher[0]

    def _apply(self, fn, recurse=True):  # noqa: ANN001 -- torch's private signature
        self.teacher._apply(fn)  # .to(device) moves the teacher with the objective
        return super()._apply(fn, recurse)

    def _run(self, net: nn.Module, raw: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        if self.feature_weight <= 0:
            return finest_output(net(raw)), []
        try:
            rgb, feats = net(raw, return_features=True)
        except TypeError:
            raise IsplabError(f"feature distillation needs forward(x, return_features=True) on "
                              f"{type(net).__name__}; set feature_weight: 0 for output-only distillation") from None
        return rgb, list(feats)

    def forward(self, model: nn.Module, raw: torch.Tensor, target: torch.Tensor, step: int):
        with torch.no_grad():
            t_rgb, t_feats = self._run(self.teacher, raw)
        s_rgb, s_feats = self._run(single_process(model, "distill") if self.feature_weight > 0 else model, raw)
        terms: dict[str, torch.Tensor] = {}
        if self.threshold is not None:
            error = (t_rgb - target).abs().mean(dim=(1, 2, 3))  # (N,) teacher error per pair
            bad = error > float(self.threshold)
            terms["cleaned"] = bad.float().mean()
            if self.mode == "replace":
                target = torch.where(bad[:, None, None, None], t_rgb, target)
                task, parts = self.loss(s_rgb, target)
            elif bool(bad.all()):
                task, parts = s_rgb.new_zeros(()), {}
            else:
                task, parts = self.loss(s_rgb[~bad], target[~bad])
        else:
            task, parts = self.loss(s_rgb, target)
        total = task
        if self.output_weight > 0:
            soft = F.l1_loss(s_rgb, t_rgb)
            total = total + self.output_weight * soft
            terms["distill_out"] = soft.detach()
        if self.feature_weight > 0:
            if len(s_feats) != len(t_feats) or any(
                    a.shape != b.shape for a, b in zip(s_feats, t_feats, strict=False)):
                raise IsplabError("student and teacher feature levels differ in number or shape: "
                                  f"{[tuple(f.shape) for f in s_feats]} vs {[tuple(f.shape) for f in t_feats]}")
            feat = torch.stack([F.l1_loss(a, b) for a, b in zip(s_feats, t_feats, strict=True)]).mean()
            total = total + self.feature_weight * feat
            terms["distill_feat"] = feat.detach()
        return total, {**parts, **terms}
