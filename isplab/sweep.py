"""Train several configs or models, in this process or as Ray tasks, and rank them on one leaderboard.

Each run is trained, scored and (optionally) exported + timed exactly as ``isplab challenge`` does it
(:func:`isplab.challenge.run.train_and_score`). Output folder::

    OUT/runs/<name>/run/          training run (an interrupted one resumes from checkpoints/last.pt)
    OUT/runs/<name>/result.json   isplab.challenge.leaderboard.ModelResult (a finished run is not redone)
    OUT/runs/<name>/error.txt     why the last attempt failed (removed when it succeeds)
    OUT/leaderboard.md, leaderboard.html, results.json

With Ray every run is one task; the workers read and write ``OUT`` by its absolute path, so on a
multi-node cluster ``OUT`` must be on a filesystem every node mounts (otherwise runs still finish, but the
crops and an interrupted run's checkpoints stay on the node that made them).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from isplab.atomic import write_text_atomic
from isplab.challenge.leaderboard import CLASSIC_ROW, Leaderboard, ModelResult
from isplab.challenge.run import BUDGETS, SPLITS, BenchSpec, challenge_config, classic_result, train_and_score
from isplab.errors import IsplabError
from isplab.executors import LocalExecutor, RayExecutor, error_text
from isplab.train.config import TrainConfig
from isplab.train.recipes import load_train_config


@dataclass(frozen=True)
class SweepRun:
    """One training run of a sweep: its leaderboard name and its config."""

    name: str
    config: TrainConfig


@dataclass
class SweepResult:
    board: Leaderboard
    results: list[ModelResult]
    failures: dict[str, str]
    files: tuple[Path, Path]


def with_steps(cfg: TrainConfig, steps: int) -> TrainConfig:
    """``cfg`` rescaled to ``steps`` in total, checkpointing at least every quarter (so it can resume)."""
    cfg = cfg.with_total_steps(steps)
    return replace(cfg, val_every=min(cfg.val_every, steps), ckpt_every=min(cfg.ckpt_every, max(1, steps // 4)))


def plan_runs(configs: Sequence[str] = (), models: Sequence[str] = (), budget: str = "quick",
              data: str | None = None, steps: int | None = None) -> list[SweepRun]:
    """The runs of a sweep, checked before anything trains (a typo fails here, not hours later).

    ``configs``: YAML paths or recipe names (``isplab/configs``), named after the file. ``models``: model
    names, each with the config ``isplab challenge`` gives it under ``budget`` (``quick``: its quick plan).
    ``data`` replaces every run's dataset, ``steps`` its length.
    """
    from isplab.models import model_entry

    if steps is not None and steps < 1:
        raise IsplabError(f"--steps must be >= 1, got {steps}")
    if budget not in BUDGETS:
        raise IsplabError(f"unknown budget {budget!r}; use one of {', '.join(BUDGETS)}")
    runs = []
    for path in configs:
        cfg = load_train_config(path)
        if data is not None:
            cfg = replace(cfg, data=replace(cfg.data, path=data))
        runs.append(SweepRun(Path(path).stem, with_steps(cfg, steps) if steps else cfg))
    spec = BUDGETS[budget]
    for name in models:
        model_entry(name)
        plan = spec.plan(name)
        if plan is not None and steps:  # the plan's schedule (warm-up, checkpoints) follows its steps
            spec = replace(spec, plans={**spec.plans, name: replace(plan, steps=steps)})
        cfg = challenge_config(name, spec, data)
        runs.append(SweepRun(name, with_steps(cfg, steps) if steps and plan is None else cfg))
    if not runs:
        raise IsplabError("nothing to sweep: pass training configs (YAML paths or recipe names) or --models a,b")
    names = [r.name for r in runs]
    twice = sorted({n for n in names if names.count(n) > 1} | ({CLASSIC_ROW} & set(names)))
    if twice:
        raise IsplabError(f"run names must be unique (and not {CLASSIC_ROW}); {', '.join(twice)} repeats. "
                          "Copy the config under another file name")
    return runs


def run_one(name: str, config: TrainConfig, folder: str, split: str, threads: int, bench: BenchSpec | None,
            progress: bool = False) -> dict[str, Any]:
    """Train + score one run into ``folder`` (a plain function of plain arguments: it may be a Ray task);
    returns the :class:`ModelResult` as a dict, crop paths relative to ``folder``."""
    result = train_and_score(name, config, Path(folder), split, threads, progress, print, bench)
    return result.to_dict()


def _reusable(path: Path, cfg: TrainConfig, bench: BenchSpec | None) -> ModelResult | None:
    """A finished run's result, unless it was trained for another length or lacks the requested timing."""
    if not path.is_file():
        return None
    prior = ModelResult.from_json(path)
    if prior.extra.get("train_steps") != cfg.total_steps or (bench is not None and prior.cpu_runtime_ms is None):
        return None
    return prior


def run_sweep(
    runs: Sequence[SweepRun], out: str | Path, ray_address: str | None = None, split: str = "val",
    threads: int = 1, bench: BenchSpec | None = None, gpus_per_task: float = 0.0, progress: bool = False,
    log: Callable[[str], None] = print,
) -> SweepResult:
    """Run (or resume) ``runs`` into ``out`` and write one leaderboard; a failing run is reported in
    :attr:`SweepResult.failures` (and on the leaderboard) and does not stop the others.

    ``threads``: torch threads per run, and CPUs Ray reserves per task; ``gpus_per_task``: GPUs per task.
    """
    if split not in SPLITS:
        raise IsplabError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    out = Path(out).resolve()  # Ray workers do not share our working directory
    results: dict[str, ModelResult] = {}
    todo: list[SweepRun] = []
    for run in runs:
        prior = _reusable(out / "runs" / run.name / "result.json", run.config, bench)
        if prior is not None:
            log(f"{run.name}: finished earlier, reusing {out / 'runs' / run.name / 'result.json'}")
            results[run.name] = prior
        else:
            todo.append(run)
    failures: dict[str, str] = {}

    def on_result(i: int, data: dict[str, Any]) -> None:
        folder = out / "runs" / todo[i].name
        (folder / "error.txt").unlink(missing_ok=True)
        ModelResult.from_dict(data).to_json(folder / "result.json")
        results[todo[i].name] = ModelResult.from_json(folder / "result.json")  # crops resolved against folder
        log(f"{todo[i].name}: done ({len(results)} of {len(runs)})")

    def on_error(i: int, exc: BaseException) -> None:
        failures[todo[i].name] = error_text(exc)
        write_text_atomic(out / "runs" / todo[i].name / "error.txt", failures[todo[i].name] + "\n")
        log(f"{todo[i].name}: FAILED: {failures[todo[i].name]}")

    calls = [dict(name=r.name, config=replace(r.config, threads=threads), folder=str(out / "runs" / r.name),
                  split=split, threads=threads, bench=bench, progress=progress and not ray_address) for r in todo]
    if calls:  # nothing left to run: no Ray connection either
        executor = RayExecutor(ray_address, threads, gpus_per_task) if ray_address else LocalExecutor()
        with executor:
            executor.map(run_one, calls, on_result, on_error)
    return _write_board(out, runs, results, failures, split, bench, log)


def _write_board(out: Path, runs: Sequence[SweepRun], results: dict[str, ModelResult], failures: dict[str, str],
                 split: str, bench: BenchSpec | None, log: Callable[[str], None]) -> SweepResult:
    """The leaderboard of the finished runs (best PSNR first until scored), the classical ISP on the first
    finished run's images, and the failures."""
    ranked = sorted((results[r.name] for r in runs if r.name in results), key=lambda r: -(r.psnr or 0.0))
    first = next((r.config for r in runs if r.name in results), None)
    rows = [*ranked, classic_result(first, split)] if first is not None else ranked
    board = Leaderboard(rows, failures=failures)
    if bench is None:
        board.notes.append("Not exported or timed (--no-bench): no size, runtime or score; ranked by PSNR.")
    files = board.write(out)
    write_text_atomic(out / "results.json", json.dumps([r.to_dict() for r in rows], indent=2) + "\n")
    log(f"wrote {files[0]} and {files[1]}")
    return SweepResult(board, ranked, failures, files)
