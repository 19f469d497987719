"""Evolutionary latency-aware search (ENERZAi, report section 4.3): (mu + lambda) with tournament selection.

Generation 0 samples ``population`` points; each later generation picks parents by tournament, mutates
each once into a child, evaluates the children and keeps the best ``population`` of parents and children
(elitism: the best point found is never lost). Every random draw comes from one seeded generator and
depends only on earlier fitness values, and those are read back from ``OUT/candidates.json``; so an
interrupted search re-run with the same ``--out`` replays the same trajectory and evaluates only the
candidates that are missing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from isplab.atomic import write_text_atomic
from isplab.config import to_dict
from isplab.errors import IsplabError
from isplab.executors import LocalExecutor
from isplab.models.zoo.enerzai import EnerzaiConfig
from isplab.search.candidate import Candidate, evaluate_candidate, make_candidate
from isplab.search.config import SearchConfig
from isplab.search.latency import LatencyCache, LatencyRecord, LatencySpec, LatencyTable, cache_key
from isplab.search.space import config_from_dict, config_key, config_to_dict, mutate, sample

CANDIDATES = "candidates.json"


def fitness(psnr: float, ms: float, target_ms: float, weight: float) -> float:
    """``psnr - weight * log2(ms / target_ms)``: dB, minus ``weight`` dB per doubling of latency.

    With ``weight = 0.5`` it ranks exactly like the challenge's Final Score ``2^(2 PSNR) / (C ms)``:
    ``log2(score) = 2 PSNR - log2(ms) - log2(C)``, i.e. twice this fitness plus a constant. ``weight = 0``
    ignores latency (the report's track 2).
    """
    if not (ms > 0 and target_ms > 0):
        raise ValueError(f"latencies must be positive, got ms={ms}, target_ms={target_ms}")
    return psnr - weight * math.log2(ms / target_ms)


def _signature(cfg: SearchConfig) -> dict[str, Any]:
    """What a stored result depends on: change any of it and old results no longer apply."""
    return {"train": to_dict(cfg.train), "train_steps": cfg.train_steps, "input_size": list(cfg.input_size),
            "threads": cfg.threads, "bench_runs": cfg.bench_runs, "latency": cfg.latency}


class Search:
    """One search into ``out``: ``run()`` returns every candidate evaluated so far (this run's and earlier)."""

    def __init__(self, cfg: SearchConfig, out: str | Path, executor: Any = None):
        self.cfg, self.out = cfg, Path(out)
        self.executor = executor if executor is not None else LocalExecutor()
        self.spec = LatencySpec(tuple(cfg.input_size), cfg.threads, cfg.bench_runs, cfg.bench_warmup)
        self.cache = LatencyCache(cfg.latency_cache or self.out / "latency_cache")
        self.table: LatencyTable | None = None
        self.store: dict[str, Candidate] = self._load()

    def _load(self) -> dict[str, Candidate]:
        path = self.out / CANDIDATES
        if not path.is_file():
            return {}
        data = json.loads(path.read_text())
        if data.get("signature") != _signature(self.cfg):
            raise IsplabError(f"{path}: holds a search with other training/latency settings than this config. "
                              "Use another --out, or restore the config it was run with")
        return {c["key"]: Candidate(**c) for c in data["candidates"]}

    def _save(self) -> None:
        data = {"signature": _signature(self.cfg), "candidates": [c.to_dict() for c in self.store.values()]}
        write_text_atomic(self.out / CANDIDATES, json.dumps(data, indent=1))

    def _score(self, c: Candidate) -> float:
        c.fitness = fitness(c.psnr, c.ms, self.cfg.target_ms, self.cfg.latency_weight)
        return c.fitness

    def evaluate(self, configs: list[tuple[EnerzaiConfig, str | None]], generation: int) -> list[Candidate]:
        """Candidates for ``(config, parent key)`` pairs, evaluating (in parallel if remote) only new ones."""
        todo, seen = [], set(self.store)
        for cfg, parent in configs:
            if config_key(cfg) not in seen:
                seen.add(config_key(cfg))
                todo.append((cfg, parent))
        remote = self.executor.remote
        calls = [dict(config=config_to_dict(cfg), train=self.cfg.train, steps=self.cfg.train_steps, spec=self.spec,
                      latency=self.cache.get(cache_key(cfg, self.spec)) or self.table,
                      run_dir=None if remote else str(self.out / "runs" / config_key(cfg)),
                      cache_dir=None if remote else str(self.cache.dir)) for cfg, _ in todo]

        def on_result(i: int, result: dict[str, Any]) -> None:
            cfg, parent = todo[i]
            record = LatencyRecord(**result["latency"])
            if record.source == "measured" and self.cache.get(record.key) is None:
                self.cache.put(record)  # remote workers cannot write our cache
            candidate = make_candidate(config_to_dict(cfg), generation, parent, result)
            self._score(candidate)
            self.store[candidate.key] = candidate
            self._save()

        self.executor.map(evaluate_candidate, calls, on_result)
        out = [self.store[config_key(cfg)] for cfg, _ in configs]
        for c in out:
            self._score(c)
        return out

    def _fit_table(self, population: list[Candidate]) -> None:
        records = [self.cache.get(cache_key(config_from_dict(c.config), self.spec)) for c in population]
        self.table = LatencyTable.fit([r for r in records if r is not None])
        write_text_atomic(self.out / "latency_table.json", json.dumps(self.table.to_dict(), indent=1))

    def _distinct(self, make, taken: set[str], tries: int = 10) -> EnerzaiConfig:
        cfg = make()
        for _ in range(tries):
            if config_key(cfg) not in taken:
                break
            cfg = make()
        taken.add(config_key(cfg))
        return cfg

    def run(self) -> list[Candidate]:
        cfg = self.cfg
        rng = np.random.default_rng(cfg.seed)
        self.out.mkdir(parents=True, exist_ok=True)
        taken: set[str] = set()
        first = [self._distinct(lambda: sample(rng, cfg.space), taken) for _ in range(cfg.population)]
        population = self.evaluate([(c, None) for c in first], generation=0)
        if cfg.latency == "table":
            self._fit_table(population)
        for generation in range(1, cfg.generations):
            children = []
            for _ in range(cfg.children_per_generation):
                parent = _tournament(rng, population, cfg.tournament)
                child = self._distinct(lambda p=parent: mutate(config_from_dict(p.config), rng, cfg.space), taken)
                children.append((child, parent.key))
            pool = {c.key: c for c in [*population, *self.evaluate(children, generation)]}
            population = sorted(pool.values(), key=lambda c: -c.fitness)[:cfg.population]
        return list(self.store.values())


def _tournament(rng: np.random.Generator, population: list[Candidate], k: int) -> Candidate:
    """The fittest of ``k`` individuals drawn at random (with replacement)."""
    picks = rng.integers(0, len(population), size=k)
    return max((population[i] for i in picks), key=lambda c: c.fitness)
