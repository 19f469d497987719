"""Evaluating one candidate: a short training run (val PSNR) plus its latency, as a JSON-ready record.

:func:`evaluate_candidate` is a plain top-level function of plain arguments so that it can run in this
process or as a Ray task on another machine (it then trains in a temporary folder and returns numbers).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from isplab.models import count_parameters
from isplab.models.zoo.enerzai import EnerzaiNet
from isplab.search.latency import LatencyCache, LatencyRecord, LatencySpec, LatencyTable, measure_latency
from isplab.search.space import config_from_dict, config_key
from isplab.train.config import TrainConfig


@dataclass
class Candidate:
    """One evaluated point. ``fitness`` is filled by the search (it depends on the target and weight)."""

    key: str
    config: dict[str, Any]
    generation: int
    parent: str | None
    psnr: float
    ssim: float
    ms: float
    latency_source: str
    macs: int
    params: int
    train_s: float
    fitness: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def candidate_train_config(train: TrainConfig, config: dict[str, Any], steps: int) -> TrainConfig:
    """The per-candidate run: the search's recipe on the registered ``enerzai`` model, ``steps`` long."""
    cfg = replace(train, model="enerzai", model_kwargs=config).with_total_steps(steps)
    return replace(cfg, val_every=steps, ckpt_every=steps)  # validate + checkpoint once, at the end


def evaluate_candidate(config: dict[str, Any], train: TrainConfig, steps: int, spec: LatencySpec,
                       latency: LatencyRecord | LatencyTable | None, run_dir: str | None,
                       cache_dir: str | None) -> dict[str, Any]:
    """Train ``config`` for ``steps`` and time it; returns ``{psnr, ssim, train_s, params, latency}``.

    Args:
        latency: a cached record (not re-measured), a fitted table (predicted), or None (measured with
            ``bench_tflite``; written to ``cache_dir`` when given).
        run_dir: where the training run goes (replaced if an interrupted attempt left one); None: a
            temporary folder, deleted afterwards (remote workers).
    """
    from isplab.train.engine import train as run_training

    cfg = config_from_dict(config)
    tmp = None if run_dir is not None else tempfile.mkdtemp(prefix="isplab-search-")
    work = Path(run_dir if run_dir is not None else tmp)
    try:
        if work.exists():
            shutil.rmtree(work)  # a half-finished run of this candidate: start it over
        result = run_training(candidate_train_config(train, config, steps), work / "run", progress=False)
        if isinstance(latency, LatencyRecord):
            record = latency
        elif isinstance(latency, LatencyTable):
            record = latency.predict(cfg, work)
        else:
            record = measure_latency(cfg, spec, LatencyCache(cache_dir if cache_dir else work / "latency"))
        return {"psnr": result.metrics["psnr"], "ssim": result.metrics["ssim"], "train_s": result.seconds,
                "params": count_parameters(EnerzaiNet(cfg)), "latency": asdict(record)}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def make_candidate(config: dict[str, Any], generation: int, parent: str | None, out: dict[str, Any]) -> Candidate:
    lat = out["latency"]
    return Candidate(config_key(config_from_dict(config)), config, generation, parent, out["psnr"], out["ssim"],
                     lat["ms"], lat["source"], lat["macs"], out["params"], out["train_s"])
