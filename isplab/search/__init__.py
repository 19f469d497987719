"""Latency-aware architecture search over the ENERZAi UNet/hourglass space (report section 4.3).

``run_search(cfg, out)`` evaluates candidates (short training for val PSNR + TFLite latency), evolves the
population and writes ``candidates.json``, ``pareto.json`` and ``pareto.svg`` into ``out``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from isplab.config import to_dict
from isplab.executors import LocalExecutor, RayExecutor
from isplab.search.candidate import Candidate
from isplab.search.config import SearchConfig
from isplab.search.evolution import Search, fitness
from isplab.search.report import front_of, write_report


@dataclass
class SearchResult:
    out: Path
    candidates: list[Candidate]
    front: list[Candidate]
    best: Candidate
    files: dict[str, Path]


def run_search(cfg: SearchConfig, out: str | Path, ray_address: str | None = None) -> SearchResult:
    """Run (or resume) a search into ``out``; with ``ray_address`` candidates are Ray tasks on that cluster."""
    with RayExecutor(ray_address, cfg.ray_cpus_per_task) if ray_address else LocalExecutor() as executor:
        candidates = Search(cfg, out, executor).run()
    meta = {"title": f"ENERZAi search: {len(candidates)} candidates",
            "fitness": f"psnr - {cfg.latency_weight} * log2(ms / {cfg.target_ms})", "search": to_dict(cfg)}
    files = write_report(out, candidates, meta)
    best = max(candidates, key=lambda c: c.fitness)
    return SearchResult(Path(out), candidates, front_of(candidates), best, files)


__all__ = ["SearchConfig", "SearchResult", "fitness", "run_search"]
