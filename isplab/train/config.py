"""The training config: typed dataclasses, loaded from YAML (``configs/*.yml``), saved resolved per run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from isplab.config import check
from isplab.data.photos import UNPAIRED_RAW_PHOTOS, UNPAIRED_TARGET_PHOTOS
from isplab.losses import LossTerm
from isplab.train.device import AMP_MODES, DEVICES


def _even_size(value: int | None, name: str) -> None:
    check(value is None or (value >= 2 and value % 2 == 0), f"{name} must be an even size >= 2 or null, got {value}")


def _range(value: tuple[float, float], name: str, low: float, high: float) -> None:
    check(len(value) == 2 and low <= value[0] <= value[1] <= high,
          f"{name} must be [low, high] with {low} <= low <= high <= {high}, got {list(value)}")


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

    def __post_init__(self) -> None:
        check(self.steps >= 1, f"steps must be >= 1, got {self.steps}")
        check(self.lr is None or self.lr > 0, f"lr must be > 0 (or null: the base lr), got {self.lr}")
        check(bool(self.losses), "losses must list at least one loss, e.g. [{name: l1}]")


@dataclass
class StreamConfig:
    """The embedded data's generator (:class:`isplab.data.SyntheticStream`); used when ``data.path`` is null.

    ``camera`` is a camera family mapping (:class:`isplab.data.CameraFamily`, e.g. ``{red_gain: [1.8, 2.6]}``,
    or ``{kind: spectral, ...}``: :class:`isplab.data.spectral.SpectralFamily`) or the path of a camera
    YAML/JSON file; ``cards`` the share of colour cards among the training samples; ``eval_cameras`` how many
    cameras render each val/test photo.
    """

    camera: dict[str, Any] | str | None = None
    scale: tuple[float, float] = (0.5, 1.0)
    recolour: float = 0.5
    cards: float = 0.0
    saturation: tuple[float, float] = (0.7, 1.4)
    eval_cameras: int = 8

    def __post_init__(self) -> None:
        _range(self.scale, "scale", 1e-3, 1.0)
        _range(self.saturation, "saturation", 0.0, 10.0)
        check(0 <= self.recolour <= 1, f"recolour is a probability in [0, 1], got {self.recolour}")
        check(0 <= self.cards <= 1, f"cards is a probability in [0, 1], got {self.cards}")
        check(self.eval_cameras >= 1, f"eval_cameras must be >= 1, got {self.eval_cameras}")


@dataclass
class UnpairedConfig:
    """Unpaired data (objective ``unpaired``, :mod:`isplab.data.unpaired`): ``data.path`` holds the camera's
    raws (any layout ``--data`` accepts, or a folder of camera raw files; null: the embedded stream), and
    ``photos`` a folder of JPEG/PNG photos of other scenes (null: the embedded ``target_photos``).

    ``raw_photos`` / ``target_photos``: the embedded training photos of each side (disjoint). ``val``: a
    paired folder to score on, needed when ``data.path`` is a folder of raw files (no pairs to hold out).
    """

    photos: str | None = None
    raw_photos: list[str] = field(default_factory=lambda: list(UNPAIRED_RAW_PHOTOS))
    target_photos: list[str] = field(default_factory=lambda: list(UNPAIRED_TARGET_PHOTOS))
    val: str | None = None


@dataclass
class DataConfig:
    """Where the pairs come from. ``path: null`` draws the embedded data on the fly (``stream``); else a
    dataset folder or a store packed from one (``isplab data pack``, read without decoding).

    ``patch``: square training crop (target pixels, even); null = 128 for the embedded stream, whole pairs
    for a folder. ``val_fraction`` is held out (by photo or as a block, see :mod:`isplab.data.splits`) when
    a folder has no ``val/``. ``val_max`` caps the images of each validation during training (evenly
    spaced); final scores use every image. ``val_crop`` centre-crops validation images (target pixels) for
    models that cannot take whole ones (quadratic self-attention). ``cache_gb`` bounds the decoded-pair
    cache of a folder. ``white_level``: the sensor code raw values are divided by (1020 for the MAI/Zurich
    data, 4095 for a 12-bit set). ``shots``: train on only the first N training pairs of a folder (numeric
    order; few-shot adaptation, ``isplab adapt``); null = all of them. ``camera``: a camera profile (YAML,
    ``isplab profile``) describing the raws' colour space and levels, for data that carries none (a synthetic
    folder's ``camera.json`` and the embedded stream carry their own); it is recorded in every checkpoint.
    ``unpaired``: raws and RGB photos of different scenes (:class:`UnpairedConfig`) instead of pairs.
    """

    path: str | None = None
    batch_size: int = 8
    patch: int | None = None
    augment: bool = True
    val_fraction: float = 0.1
    val_max: int | None = 64
    val_crop: int | None = None
    cache_gb: float = 4.0
    white_level: float = 1020.0
    num_workers: int = 0
    shots: int | None = None
    camera: str | None = None
    stream: StreamConfig = field(default_factory=StreamConfig)
    unpaired: UnpairedConfig | None = None

    def __post_init__(self) -> None:
        check(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        _even_size(self.patch, "patch")
        _even_size(self.val_crop, "val_crop")
        check(0 < self.val_fraction < 1, f"val_fraction must be in (0, 1), got {self.val_fraction}")
        check(self.val_max is None or self.val_max >= 1, f"val_max must be >= 1 or null, got {self.val_max}")
        check(self.cache_gb >= 0, f"cache_gb must be >= 0, got {self.cache_gb}")
        check(self.white_level > 0, f"white_level must be > 0, got {self.white_level}")
        check(self.num_workers >= 0, f"num_workers must be >= 0, got {self.num_workers}")
        check(self.shots is None or self.shots >= 1, f"shots must be >= 1 or null (all pairs), got {self.shots}")


@dataclass
class OptimConfig:
    """Adam. A tiny ``eps`` lets layers whose gradients are still ~1e-10 (deep nets from a near-zero init,
    like MicroISP's official N(0, 1e-3)) take full-size steps from the start."""

    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        check(self.lr > 0, f"lr must be > 0, got {self.lr}")
        check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
              f"betas must be two values in [0, 1), got {list(self.betas)}")
        check(self.eps > 0, f"eps must be > 0, got {self.eps}")
        check(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")


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
        check(self.name in ("constant", "cosine", "step"), f"name must be constant, cosine or step, not {self.name!r}")
        check(self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps}")
        check(self.min_lr >= 0, f"min_lr must be >= 0, got {self.min_lr}")
        check(self.step_size >= 1, f"step_size must be >= 1, got {self.step_size}")
        check(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")


@dataclass
class EmaConfig:
    """Exponential moving average of the weights (:mod:`isplab.train.ema`); ``decay: 0`` disables it."""

    decay: float = 0.0

    def __post_init__(self) -> None:
        check(0 <= self.decay < 1, f"decay must be in [0, 1), got {self.decay}")


@dataclass
class QuickPlan:
    """A recipe's short schedule (its ``quick:`` section; ``isplab challenge``'s quick budget and
    ``isplab sweep --models`` use it): one supervised stage of ``losses`` on the full-resolution output,
    linear warm-up then cosine decay to zero, Adam with ``eps``."""

    steps: int
    batch_size: int
    patch: int
    lr: float
    warmup: int = 50
    eps: float = 1e-8
    losses: list[LossTerm] = field(default_factory=lambda: [LossTerm("l1")])

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        _even_size(self.patch, "patch")
        check(self.lr > 0 and self.eps > 0, f"lr and eps must be > 0, got {self.lr}, {self.eps}")
        check(self.warmup >= 0, f"warmup must be >= 0, got {self.warmup}")
        check(bool(self.losses), "losses must list at least one loss, e.g. [{name: l1}]")


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
    channels_last: bool = True  # NHWC activations: ~1.7x faster CPU steps for the small conv nets here
    init: str | None = None  # weights to start from (a checkpoint or pretrained:NAME): fine-tuning
    device: str = "auto"  # auto (a GPU when torch sees one), cpu or cuda: isplab.train.device
    amp: str = "none"  # mixed precision of the forward pass and loss: none, bf16 or fp16
    quick: QuickPlan | None = None  # the recipe's short schedule for the challenge's quick budget

    def __post_init__(self) -> None:
        check(bool(self.stages), "stages must list at least one stage")
        for name in ("val_every", "ckpt_every", "log_every"):
            check(getattr(self, name) >= 1, f"{name} must be >= 1, got {getattr(self, name)}")
        check(self.threads >= 0, f"threads must be >= 0 (0: torch's default), got {self.threads}")
        check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")
        check(self.amp in AMP_MODES, f"amp must be one of {', '.join(AMP_MODES)}, not {self.amp!r}")

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

    def input_paths(self) -> dict[str, list[str]]:
        """The files and folders this run reads, by config key (what :func:`isplab.paths.check_apart` keeps
        the run folder apart from)."""
        unpaired = self.data.unpaired
        found = {"data.path": [self.data.path], "init": [self.init], "data.camera": [self.data.camera],
                 "data.stream.camera": [self.data.stream.camera if isinstance(self.data.stream.camera, str) else None],
                 "data.unpaired.photos": [unpaired and unpaired.photos],
                 "data.unpaired.val": [unpaired and unpaired.val]}
        for i, stage in enumerate(self.stages):
            for key in ("teacher", "target_data"):
                value = stage.objective.kwargs.get(key)
                found[f"stages[{i}].objective.kwargs.{key}"] = [value if isinstance(value, str) else None]
        return {key: [v for v in values if v] for key, values in found.items() if any(values)}

    def with_total_steps(self, total: int) -> TrainConfig:
        """A copy whose stages are rescaled proportionally to ``total`` steps (each stage >= 1 step)."""
        from dataclasses import replace

        check(total >= len(self.stages), f"--steps {total}: this config has {len(self.stages)} stages, so it needs "
              f"at least {len(self.stages)} steps")
        scale = total / self.total_steps
        steps = [max(1, round(s.steps * scale)) for s in self.stages]
        steps[-1] = max(1, total - sum(steps[:-1]))
        stages = [replace(s, steps=n) for s, n in zip(self.stages, steps, strict=True)]
        return replace(self, stages=stages)


def training_mode(config: dict[str, Any]) -> str:
    """How a run was trained, from its saved config (a checkpoint's ``config``): ``paired``, ``unpaired``, or
    ``semi-supervised (N pairs + unpaired)`` (shown by ``isplab eval`` and the challenge leaderboard)."""
    try:
        objectives = [stage.get("objective") or {} for stage in config.get("stages") or []]
        unpaired = [o.get("kwargs") or {} for o in objectives if o.get("name") == "unpaired"]
        pairs = max((int(kw.get("pairs") or 0) for kw in unpaired), default=0)
    except (AttributeError, TypeError, ValueError, OverflowError):  # a hand-made checkpoint's config
        return "unknown"
    if not unpaired:
        return "paired"
    return f"semi-supervised ({pairs} pairs + unpaired)" if pairs else "unpaired"
