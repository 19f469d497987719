"""The training config: typed dataclasses, loaded from YAML (``configs/*.yml``), saved resolved per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isplab.losses import LossTerm


@dataclass
class ObjectiveConfig:
    """Which registered objective turns a batch into a loss (see :mod:`isplab.train.objectives`)."""

    name: str = "supervised"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class StageConfig:
    """A training stage: ``steps`` optimisation steps with these losses (stages run in order).

    ``lr`` overrides the base learning rate for this stage (the schedule still applies on top).
    """

    steps: int
    losses: list[LossTerm] = field(default_factory=lambda: [LossTerm("l1")])
    name: str = ""
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    lr: float | None = None


@dataclass
class DataConfig:
    """Where the pairs come from. ``path: null`` uses the embedded default (synthesised) data."""

    path: str | None = None
    val_fraction: float = 0.1
    batch_size: int = 8
    num_workers: int = 0
    augment: bool = True
    synth_n: int = 64
    crop: int | None = None  # centred square crop (target pixels, even) of every pair; None = whole image


@dataclass
class OptimConfig:
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0


@dataclass
class ScheduleConfig:
    """Learning-rate schedule over all steps: ``constant``, ``cosine`` (to ``min_lr``) or ``step``
    (multiply by ``gamma`` every ``step_size`` steps); optional linear warm-up."""

    name: str = "constant"
    warmup_steps: int = 0
    min_lr: float = 0.0
    step_size: int = 1000
    gamma: float = 0.5

    def __post_init__(self) -> None:
        if self.name not in ("constant", "cosine", "step"):
            raise ValueError(f"schedule.name must be constant, cosine or step, not {self.name!r}")


@dataclass
class EmaConfig:
    """Exponential moving average of the weights (:mod:`isplab.train.ema`); ``decay: 0`` disables it."""

    decay: float = 0.0


@dataclass
class TrainConfig:
    model: str = "microisp"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    ema: EmaConfig = field(default_factory=EmaConfig)
    stages: list[StageConfig] = field(default_factory=lambda: [StageConfig(steps=1000)])
    val_every: int = 500
    ckpt_every: int = 500
    log_every: int = 10
    threads: int = 0  # torch intra-op threads; 0 keeps torch's default

    def __post_init__(self) -> None:
        if not self.stages:
            raise ValueError("stages must list at least one stage")
        if any(s.steps < 1 for s in self.stages):
            raise ValueError("every stage needs steps >= 1")

    @property
    def total_steps(self) -> int:
        return sum(s.steps for s in self.stages)

    def stage_at(self, step: int) -> StageConfig:
        """The stage that trains global step ``step`` (0-based)."""
        for stage in self.stages:
            if step < stage.steps:
                return stage
            step -= stage.steps
        return self.stages[-1]

    def with_total_steps(self, total: int) -> TrainConfig:
        """A copy whose stages are rescaled proportionally to ``total`` steps (each stage >= 1 step)."""
        from dataclasses import replace

        if total < len(self.stages):
            raise ValueError(f"--steps {total} is fewer than the {len(self.stages)} stages of this config")
        scale = total / self.total_steps
        steps = [max(1, round(s.steps * scale)) for s in self.stages]
        steps[-1] = max(1, total - sum(steps[:-1]))
        stages = [replace(s, steps=n) for s, n in zip(self.stages, steps, strict=True)]
        return replace(self, stages=stages)
