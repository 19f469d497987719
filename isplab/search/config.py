"""``isplab search`` configuration: a typed dataclass loaded from YAML, a path or a shipped config's name
(``isplab/configs/search/<name>.yml``, see :meth:`SearchConfig.load`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from isplab.config import load_yaml
from isplab.errors import IsplabError
from isplab.runtime import FULL_HD_INPUT
from isplab.search.space import SpaceBounds
from isplab.train.config import StageConfig, TrainConfig

#: The search configs shipped in the package, by file stem (``enerzai_tiny``, ``enerzai_full``).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "search"


def _default_train() -> TrainConfig:
    return TrainConfig(model="enerzai", stages=[StageConfig(steps=200)], val_every=10**9, ckpt_every=10**9,
                       log_every=50)


@dataclass
class SearchConfig:
    """An evolutionary latency-aware search over the ENERZAi space.

    Fitness = val PSNR - ``latency_weight`` x log2(ms / ``target_ms``) (see :func:`isplab.search.evolution.fitness`).

    Attributes:
        population: individuals kept per generation ((mu + lambda) selection: parents and children compete).
        generations: generation 0 samples ``population`` points; each later one breeds ``offspring``
            children (0: ``population``) by tournament selection + one mutation.
        tournament: contestants per tournament.
        train_steps: training steps per candidate (``train``'s stages are rescaled to it).
        train: the training recipe per candidate; ``model``/``model_kwargs`` are set by the search.
        input_size: packed ``(H, W)`` the latency is measured at (544x960 = Full HD output).
        latency: ``measured`` (every candidate exported and timed, cached) or ``table`` (generation 0
            measured, a :class:`~isplab.search.latency.LatencyTable` fitted on it predicts the rest).
        latency_cache: folder of the latency cache (default ``OUT/latency_cache``); share it across searches.
        ray_cpus_per_task: CPUs Ray reserves per candidate task (with ``--ray``).
    """

    population: int = 8
    generations: int = 5
    offspring: int = 0
    tournament: int = 2
    seed: int = 0
    space: SpaceBounds = field(default_factory=SpaceBounds)
    train_steps: int = 200
    train: TrainConfig = field(default_factory=_default_train)
    input_size: tuple[int, int] = FULL_HD_INPUT
    threads: int = 2
    bench_runs: int = 5
    bench_warmup: int = 1
    target_ms: float = 50.0
    latency_weight: float = 0.5
    latency: Literal["measured", "table"] = "measured"
    latency_cache: str | None = None
    ray_cpus_per_task: float = 1.0

    def __post_init__(self) -> None:
        if self.population < 1 or self.generations < 1 or self.offspring < 0 or self.tournament < 1:
            raise ValueError("population, generations and tournament must be >= 1 and offspring >= 0")
        if self.train_steps < 1 or self.target_ms <= 0 or self.latency_weight < 0:
            raise ValueError("train_steps must be >= 1, target_ms > 0 and latency_weight >= 0")
        if self.latency not in ("measured", "table"):
            raise ValueError(f"latency must be 'measured' or 'table', not {self.latency!r}")
        if self.latency == "table" and self.population < 2:
            raise ValueError("latency: table fits on generation 0, which needs population >= 2")
        # a YAML ``train:`` mapping starts from TrainConfig's defaults (microisp): the search trains enerzai
        self.train = replace(self.train, model="enerzai", model_kwargs={})

    @property
    def children_per_generation(self) -> int:
        return self.offspring or self.population

    @classmethod
    def load(cls, name_or_path: str | Path) -> SearchConfig:
        """A search config from a YAML path, or the name of a shipped one (:func:`shipped_configs`)."""
        path = Path(name_or_path)
        if path.suffix in (".yml", ".yaml") or path.exists():
            return load_yaml(cls, path)
        shipped = CONFIG_DIR / f"{path.name}.yml"
        if not shipped.is_file():
            raise IsplabError(f"{name_or_path}: no such file and no shipped search config of that name. "
                              f"Pass a YAML path or one of: {', '.join(shipped_configs())}")
        return load_yaml(cls, shipped)


def shipped_configs() -> list[str]:
    """Names of the search configs shipped in ``isplab/configs/search/``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yml"))
