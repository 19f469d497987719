"""The main job: for each model train, evaluate, export (parity proof + GPU audit), benchmark, score, rank.

Output folder layout (re-running skips what is finished; an interrupted training resumes)::

    OUT/
      models/<name>/run/            training run (config.yml, checkpoints/, tb/)
      models/<name>/model.tflite    fp32 export at the benchmark size, proven against PyTorch
      models/<name>/export.txt      parity + GPU-audit report
      models/<name>/crops/*.png     raw visualisation, classical ISP, model output, target
      models/<name>/result.json     isplab.leaderboard.ModelResult
      leaderboard.md, leaderboard.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from isplab.atomic import write_text_atomic
from isplab.classic import ClassicISP
from isplab.classic.visualise import raw_visualisation
from isplab.evaluate import evaluate
from isplab.leaderboard import Leaderboard, ModelResult
from isplab.models.weights import load_checkpoint, load_model_from_checkpoint
from isplab.score import final_score
from isplab.train.config import TrainConfig
from isplab.train.data import build_datasets
from isplab.train.recipes import load_train_config

DEFAULT_MODELS = ("mialgo_3conv", "microisp", "pynetv2_mobile")


@dataclass(frozen=True)
class Budget:
    """How much work each model gets. ``steps=None`` keeps the recipe's full schedule."""

    steps: int | None
    batch_size: int | None
    synth_n: int
    input_size: tuple[int, int]  #: packed export/benchmark size; (544, 960) is the challenge's Full HD
    bench_runs: int
    bench_warmup: int
    #: learning-rate multiplier over the recipe's (short budgets need larger steps to show learning)
    lr_scale: float = 1.0


BUDGETS = {
    "tiny": Budget(steps=2, batch_size=2, synth_n=12, input_size=(96, 128), bench_runs=1, bench_warmup=0),
    "quick": Budget(steps=200, batch_size=4, synth_n=64, input_size=(544, 960), bench_runs=3, bench_warmup=1,
                    lr_scale=10.0),
    "full": Budget(steps=None, batch_size=None, synth_n=256, input_size=(544, 960), bench_runs=10,
                   bench_warmup=2),
}


def challenge_config(model: str, budget: Budget, data: str | None) -> TrainConfig:
    """The model's recipe, cut to the budget."""
    cfg = load_train_config(None, model)
    cfg = replace(cfg, data=replace(cfg.data, path=data, synth_n=budget.synth_n))
    if budget.batch_size:
        cfg = replace(cfg, data=replace(cfg.data, batch_size=budget.batch_size))
    if budget.lr_scale != 1.0:
        stages = [replace(s, lr=None if s.lr is None else s.lr * budget.lr_scale) for s in cfg.stages]
        cfg = replace(cfg, optim=replace(cfg.optim, lr=cfg.optim.lr * budget.lr_scale), stages=stages,
                      schedule=replace(cfg.schedule, min_lr=cfg.schedule.min_lr * budget.lr_scale))
    if budget.steps:
        cfg = cfg.with_total_steps(max(budget.steps, len(cfg.stages)))  # at least one step per stage
        cfg = replace(cfg, val_every=cfg.total_steps, ckpt_every=max(1, cfg.total_steps // 4),
                      log_every=max(1, min(cfg.log_every, cfg.total_steps // 10)))
    return cfg


def _to_png(rgb: np.ndarray, path: Path) -> str:
    """``(3, H, W)`` float in [0, 1] -> 8-bit PNG; returns the path relative to the model folder."""
    img = (np.clip(rgb.transpose(1, 2, 0), 0, 1) * 255 + 0.5).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return str(path.relative_to(path.parents[1]))


def save_crops(model: torch.nn.Module, val_set, folder: Path) -> list[str]:
    """Fig.-1-style crops for the first validation pair: raw, classical ISP, model, target."""
    raw, target = val_set[0]
    with torch.no_grad():
        outputs = {"raw": raw_visualisation(raw), "classic_isp": ClassicISP()(raw[None])[0],
                   "model": model.eval()(raw[None])[0], "target": target}
    return [_to_png(img.numpy(), folder / "crops" / f"{name}.png") for name, img in outputs.items()]


def run_model(
    name: str, budget: Budget, out: Path, data: str | None, threads: int, progress: bool,
    log: Callable[[str], None],
) -> ModelResult:
    """Train -> evaluate -> export -> bench -> score one model, skipping finished steps."""
    from isplab.bench import bench_tflite
    from isplab.export import export_tflite
    from isplab.train.engine import train

    folder = out / "models" / name
    result_path = folder / "result.json"
    if result_path.is_file():
        log(f"{name}: finished earlier, reusing {result_path}")
        return ModelResult.from_json(result_path)
    cfg = challenge_config(name, budget, data)
    run_dir, last = folder / "run", folder / "run" / "checkpoints" / "last.pt"
    done = last.is_file() and load_checkpoint(last)["step"] >= cfg.total_steps
    if not done:
        log(f"{name}: training {cfg.total_steps} steps (batch {cfg.data.batch_size})")
        train(cfg, run_dir, resume=last.is_file(), progress=progress)
    model, _ = load_model_from_checkpoint(last)
    _, val_set = build_datasets(cfg.data, cfg.seed)
    metrics = evaluate(model, val_set, batch_size=cfg.data.batch_size)
    log(f"{name}: PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f} on {int(metrics['n'])} images")

    tflite = folder / "model.tflite"
    pairs = [val_set[i] for i in range(min(2, len(val_set)))]
    report = export_tflite(model, tflite, input_size=budget.input_size,
                           parity_inputs=pairs)
    write_text_atomic(folder / "export.txt", report.render() + "\n")
    log(f"{name}: exported {tflite} ({report.size_bytes / 2**20:.3f} MB), parity max-abs "
        f"{report.parity.max_abs:.2e}, GPU audit {'clean' if report.audit.clean else 'PROBLEMS'}")

    bench = bench_tflite(tflite, input_size=budget.input_size, threads=threads, runs=budget.bench_runs,
                         warmup=budget.bench_warmup)
    result = ModelResult(
        model=name, size_mb=report.size_bytes / 2**20, psnr=metrics["psnr"], ssim=metrics["ssim"],
        cpu_runtime_ms=bench.median_ms, final_score=final_score(metrics["psnr"], bench.median_ms),
        gpu_audit="pass" if report.audit.clean else report.audit.summary(),
        crops=save_crops(model, val_set, folder), tflite=str(tflite.relative_to(folder)),
        input_size=list(budget.input_size), threads=threads,
        extra={"parity_max_abs": report.parity.max_abs, "train_steps": cfg.total_steps,
               "peak_mem_mb": bench.peak_mem_mb},
    )
    result.to_json(result_path)
    return ModelResult.from_json(result_path)  # resolves crop paths against the model folder


def classic_row(budget: Budget, data: str | None, out: Path) -> ModelResult:
    """The classical reference ISP on the same validation images (no runtime: it is not a network)."""
    cfg = challenge_config(DEFAULT_MODELS[0], budget, data)
    _, val_set = build_datasets(cfg.data, cfg.seed)
    m = evaluate(ClassicISP(), val_set, batch_size=8)
    result = ModelResult(model="classic_isp", framework="isplab.classic (reference)", psnr=m["psnr"],
                         ssim=m["ssim"], notes="bilinear demosaic + grey-world WB + gamma; not a network")
    path = result.to_json(out / "models" / "classic_isp" / "result.json")
    return ModelResult.from_json(path)


def run_challenge(
    out: str | Path = "challenge",
    models: Sequence[str] = DEFAULT_MODELS,
    budget: str = "quick",
    data: str | None = None,
    threads: int = 2,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Leaderboard:
    """Run the challenge for ``models`` and write ``OUT/leaderboard.{md,html}``; returns the leaderboard."""
    from isplab.errors import IsplabError
    from isplab.models import model_entry

    if budget not in BUDGETS:
        raise IsplabError(f"unknown budget {budget!r}; use one of {', '.join(BUDGETS)}")
    for name in models:
        model_entry(name)  # fail fast on a typo, before hours of training
    out, spec = Path(out), BUDGETS[budget]
    torch.set_num_threads(threads)
    results = [run_model(name, spec, out, data, threads, progress, log) for name in models]
    results.append(classic_row(spec, data, out))
    reference = "microisp" if "microisp" in models else models[0]
    board = Leaderboard(results, reference=reference)
    md, page = board.write(out)
    write_text_atomic(out / "results.json", json.dumps([r.to_dict() for r in results], indent=2) + "\n")
    log(board.to_markdown(image_base=out))
    log(f"wrote {md} and {page}")
    return board
