"""The ENERZAi search space: bounds, seeded sampling and mutation of :class:`EnerzaiConfig`, stable keys.

A point is an :class:`~isplab.models.zoo.enerzai.EnerzaiConfig` (frozen, hashable). Python's ``hash`` is
salted per process for strings, so caches and result files use :func:`config_key` (SHA-1 of the
canonical JSON form) instead. Every random choice draws from a ``numpy.random.Generator`` passed in, so
a search is a pure function of its seed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from isplab.config import to_dict
from isplab.models.zoo.enerzai import EnerzaiConfig, LevelConfig


@dataclass(frozen=True)
class SpaceBounds:
    """Which configs the search may visit. Widths come from ``widths`` and never shrink going down."""

    min_levels: int = 2
    max_levels: int = 4
    widths: tuple[int, ...] = (8, 12, 16, 20, 24, 32, 40, 48, 64, 96, 128, 192)
    max_depth: int = 3
    reductions: tuple[int, ...] = (4, 8, 16)
    skips: tuple[str, ...] = ("concat", "add")

    def __post_init__(self) -> None:
        if not 1 <= self.min_levels <= self.max_levels:
            raise ValueError(f"need 1 <= min_levels <= max_levels, got {self.min_levels}, {self.max_levels}")
        if not self.widths or list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths must be a non-empty increasing list, got {self.widths}")
        if self.max_depth < 1 or not self.reductions or not self.skips:
            raise ValueError("max_depth must be >= 1 and reductions / skips non-empty")


def config_to_dict(cfg: EnerzaiConfig) -> dict[str, Any]:
    """Plain JSON/YAML form; also the ``model_kwargs`` of the registered ``enerzai`` model."""
    return to_dict(cfg)


def config_from_dict(data: dict[str, Any]) -> EnerzaiConfig:
    return EnerzaiConfig(tuple(LevelConfig(**lv) for lv in data["levels"]), data["reduction"], data["skip"])


def config_key(cfg: EnerzaiConfig) -> str:
    """Stable 16-hex-digit identity of a config, the same in every process and run."""
    text = json.dumps(config_to_dict(cfg), sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def in_bounds(cfg: EnerzaiConfig, bounds: SpaceBounds) -> bool:
    lv = cfg.levels
    widths = [level.width for level in lv]
    return (bounds.min_levels <= len(lv) <= bounds.max_levels
            and all(w in bounds.widths for w in widths) and widths == sorted(widths)
            and all(level.encoder_depth <= bounds.max_depth and level.decoder_depth <= bounds.max_depth
                    for level in lv)
            and all(level.decoder_depth == 1 for level in lv[-1:])  # the bottleneck has no decoder
            and cfg.reduction in bounds.reductions and cfg.skip in bounds.skips)


def _level(rng: np.random.Generator, width: int, bounds: SpaceBounds) -> LevelConfig:
    return LevelConfig(width, int(rng.integers(1, bounds.max_depth + 1)), int(rng.integers(1, bounds.max_depth + 1)),
                       bool(rng.integers(2)))


def _normalise(levels: list[LevelConfig], cfg: EnerzaiConfig) -> EnerzaiConfig:
    """Sort widths (non-decreasing going down) and reset the bottleneck's unused decoder depth."""
    widths = sorted(level.width for level in levels)
    levels = [replace(level, width=w) for level, w in zip(levels, widths, strict=True)]
    levels[-1] = replace(levels[-1], decoder_depth=1)
    return replace(cfg, levels=tuple(levels))


def sample(rng: np.random.Generator, bounds: SpaceBounds) -> EnerzaiConfig:
    """A uniformly drawn point: level count, sorted widths, depths, attention flags, reduction, skip."""
    n = int(rng.integers(bounds.min_levels, bounds.max_levels + 1))
    widths = sorted(int(w) for w in rng.choice(bounds.widths, size=n))
    base = EnerzaiConfig(reduction=int(rng.choice(bounds.reductions)), skip=str(rng.choice(bounds.skips)))
    return _normalise([_level(rng, w, bounds) for w in widths], base)


def _step_width(width: int, delta: int, bounds: SpaceBounds) -> int:
    i = bounds.widths.index(width) + delta
    return bounds.widths[min(max(i, 0), len(bounds.widths) - 1)]


def _mutate_once(cfg: EnerzaiConfig, rng: np.random.Generator, bounds: SpaceBounds) -> EnerzaiConfig:
    levels = list(cfg.levels)
    i = int(rng.integers(len(levels)))
    kind = str(rng.choice(["width", "encoder", "decoder", "attention", "depth", "reduction", "skip"]))
    if kind == "width":
        levels[i] = replace(levels[i], width=_step_width(levels[i].width, int(rng.choice([-1, 1])), bounds))
    elif kind in ("encoder", "decoder"):
        name = f"{kind}_depth"
        value = getattr(levels[i], name) + int(rng.choice([-1, 1]))
        levels[i] = replace(levels[i], **{name: min(max(value, 1), bounds.max_depth)})
    elif kind == "attention":
        levels[i] = replace(levels[i], attention=not levels[i].attention)
    elif kind == "depth":  # add or drop the bottleneck level
        if len(levels) < bounds.max_levels and (len(levels) == bounds.min_levels or rng.integers(2)):
            levels.append(_level(rng, _step_width(levels[-1].width, 1, bounds), bounds))
        elif len(levels) > bounds.min_levels:
            levels.pop()
    elif kind == "reduction":
        cfg = replace(cfg, reduction=int(rng.choice(bounds.reductions)))
    else:
        cfg = replace(cfg, skip=str(rng.choice(bounds.skips)))
    return _normalise(levels, cfg)


def mutate(cfg: EnerzaiConfig, rng: np.random.Generator, bounds: SpaceBounds, max_tries: int = 20) -> EnerzaiConfig:
    """A neighbour of ``cfg``: one random edit (width step, depth +-1, attention flip, level added or
    dropped, reduction, skip), retried until it differs from ``cfg``. Always within ``bounds``."""
    for _ in range(max_tries):
        child = _mutate_once(cfg, rng, bounds)
        if child != cfg:
            return child
    return sample(rng, bounds)  # a corner of the space with no distinct neighbour drawn: jump
