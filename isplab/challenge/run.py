"""The main job: for each model train, evaluate, export (parity proof + GPU audit), benchmark, score, rank.

Output folder layout (re-running skips what is finished; an interrupted training resumes)::

    OUT/
      models/<name>/run/            training run (config.yml, checkpoints/, tb/, metrics.jsonl)
      models/<name>/model.tflite    fp32 export at the benchmark size, proven against PyTorch
      models/<name>/export.txt      parity + GPU-audit report
      models/<name>/accel.txt       HTP / GPU runtime verdicts (when `isplab accel setup` has run)
      models/<name>/crops/*.png     raw visualisation, classical ISP, model output, target
      models/<name>/result.json     isplab.challenge.leaderboard.ModelResult
      leaderboard.md, leaderboard.html, results.json

Every score comes from images never trained on: the validation split by default (the embedded val photo; a
folder's ``val/`` or held-out pairs), or ``split="test"``; the leaderboard says which, and also shows the
test split's scores when there is one. Scores use the last checkpoint, so no choice was made on the
scored images.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from PIL import Image

from isplab.atomic import write_text_atomic
from isplab.challenge.leaderboard import CLASSIC_ROW, Leaderboard, ModelResult
from isplab.challenge.score import final_score
from isplab.classic import ClassicISP
from isplab.classic.visualise import raw_visualisation
from isplab.data.splits import EvalSet
from isplab.evaluate import evaluate
from isplab.images import to_uint8
from isplab.losses import LossTerm
from isplab.models.weights import load_checkpoint, load_model_from_checkpoint, raw_domain
from isplab.runtime import FULL_HD_INPUT
from isplab.train.config import ObjectiveConfig, ScheduleConfig, StageConfig, TrainConfig, training_mode
from isplab.train.data import RunData, build_run_data, classic_for
from isplab.train.recipes import load_train_config

DEFAULT_MODELS = ("mialgo_3conv", "microisp", "pynetv2_mobile")


@dataclass(frozen=True)
class Plan:
    """How one model trains within a short budget: one supervised stage on the full-resolution output,
    linear warm-up then cosine decay to zero, Adam."""

    steps: int
    batch_size: int
    patch: int
    lr: float
    warmup: int = 50
    eps: float = 1e-8
    losses: tuple[tuple[str, float], ...] = (("l1", 1.0),)


@dataclass(frozen=True)
class Budget:
    """How much work each model gets.

    ``plans`` give a model its short schedule (``default_plan`` for models without one); with no plans
    (``full``) each model runs its recipe's own schedule. ``input_size`` is the packed export/benchmark
    size ((544, 960): the challenge's Full HD); ``eval_cameras`` renders each embedded val/test photo.
    """

    name: str
    input_size: tuple[int, int]
    bench_runs: int
    bench_warmup: int
    eval_cameras: int = 8
    plans: dict[str, Plan] = field(default_factory=dict)
    default_plan: Plan | None = None

    def plan(self, model: str) -> Plan | None:
        return self.plans.get(model, self.default_plan)


#: ``quick`` (the default; about 13 minutes for the three default models on a 2-core CPU). Measured
#: on the embedded data (benchmarks and the README quote the runs):
#:
#: * every model: one stage with warm-up + cosine decay at a learning rate 10-50x the recipes' (the
#:   recipes' 1e-4 is tuned for 60k-step schedules), channels-last, fresh pairs every step;
#: * ``mialgo_3conv`` (3k params) is cheap per step: batch 16 of 128 px crops, 2000 steps (3000 add
#:   < 0.3 dB);
#: * ``microisp``: the official N(0, 1e-3) init leaves the deep layers' gradients at ~1e-18, below Adam's
#:   default eps 1e-8, so they would not move until the layers after them had grown. ``eps=1e-16`` lets
#:   every layer step from the first batch; patches are the smallest its attention accepts (160 px);
#:   L1 + 0.5 SSIM sharpens it faster than L1 alone;
#: * ``pynetv2_mobile`` trains its full-resolution output directly (the recipe's level-by-level stages
#:   need far more steps than a quick run has). It learns tone and detail fast but saturated hues
#:   (reds, greens) last: at 800-1200 steps reds still render orange. The budget goes to steps, not
#:   pixels: 96 px crops (~190 ms/step) for 2000 steps, L1 + 0.5 SSIM at 4e-3.
QUICK_PLANS = {
    "mialgo_3conv": Plan(steps=2000, batch_size=16, patch=128, lr=3e-3),
    "microisp": Plan(steps=1200, batch_size=8, patch=160, lr=5e-3, eps=1e-16, losses=(("l1", 1.0), ("ssim", 0.5))),
    "pynetv2_mobile": Plan(steps=2000, batch_size=8, patch=96, lr=4e-3, losses=(("l1", 1.0), ("ssim", 0.5))),
}

BUDGETS = {
    "tiny": Budget("tiny", input_size=(96, 128), bench_runs=1, bench_warmup=0, eval_cameras=1,
                   default_plan=Plan(steps=2, batch_size=2, patch=32, lr=1e-3, warmup=1)),
    "quick": Budget("quick", input_size=FULL_HD_INPUT, bench_runs=3, bench_warmup=1, plans=QUICK_PLANS,
                    default_plan=Plan(steps=800, batch_size=8, patch=128, lr=2e-3)),
    "full": Budget("full", input_size=FULL_HD_INPUT, bench_runs=10, bench_warmup=2),
}


def _fit_patch(model: str, patch: int) -> int:
    """The smallest patch >= ``patch`` the model accepts (even; packed side a multiple of its input_multiple)."""
    from isplab.models import model_entry

    entry = model_entry(model)
    side = max(patch // 2, entry.min_input)
    side = -(-side // entry.input_multiple) * entry.input_multiple
    return 2 * side


INITS = ("scratch", "pretrained")
#: Fine-tuning shipped weights starts at this fraction of a plan's learning rate (they are already trained).
FINE_TUNE_LR = 0.1


def init_label(model: str, init: str) -> str:
    """What a model starts from under ``--init``: ``pretrained:NAME``, or why it starts from scratch."""
    from isplab.models.weights import has_pretrained

    if init == "scratch":
        return "scratch"
    return f"pretrained:{model}" if has_pretrained(model) else "scratch (no pretrained weights)"


def challenge_config(model: str, budget: Budget, data: str | None, init: str = "scratch") -> TrainConfig:
    """The model's training config under ``budget``: its recipe, or the budget's plan for it; with
    ``init="pretrained"`` it fine-tunes the shipped weights (where they exist) at a tenth of the LR."""
    cfg = load_train_config(None, model)
    label = init_label(model, init)
    if label.startswith("pretrained:"):
        cfg = replace(cfg, init=label, optim=replace(cfg.optim, lr=cfg.optim.lr * FINE_TUNE_LR))
    stream = replace(cfg.data.stream, eval_cameras=budget.eval_cameras)
    cfg = replace(cfg, data=replace(cfg.data, path=data, stream=stream))
    plan = budget.plan(model)
    if plan is None:
        return cfg
    stage = StageConfig(steps=plan.steps, name="+".join(n for n, _ in plan.losses),
                        losses=[LossTerm(n, w) for n, w in plan.losses], objective=ObjectiveConfig())
    lr = plan.lr * (FINE_TUNE_LR if cfg.init else 1.0)
    return replace(
        cfg, stages=[stage], optim=replace(cfg.optim, lr=lr, eps=plan.eps),
        schedule=ScheduleConfig(name="cosine", warmup_steps=min(plan.warmup, plan.steps - 1), min_lr=0.0),
        data=replace(cfg.data, batch_size=plan.batch_size, patch=_fit_patch(model, plan.patch)),
        ema=replace(cfg.ema, decay=0.0), val_every=max(1, plan.steps // 4), ckpt_every=max(1, plan.steps // 4),
        log_every=max(1, min(cfg.log_every, plan.steps // 10)))


SPLITS = ("val", "test")


def scored_set(run_data: RunData, split: str = "val") -> EvalSet:
    """The images the leaderboard scores: the full validation split, or the test split."""
    if split not in SPLITS:
        from isplab.errors import IsplabError

        raise IsplabError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if split == "test":
        if run_data.test is None:
            from isplab.errors import DataError

            raise DataError(None, "the data has no test split", "add a test/ folder, or score --split val")
        return run_data.test
    return run_data.val_full


def _to_png(rgb: torch.Tensor, path: Path) -> str:
    """``(3, H, W)`` float in [0, 1] -> 8-bit PNG; returns the path relative to the model folder."""
    img = to_uint8(rgb.float().numpy())
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return str(path.relative_to(path.parents[1]))


def save_crops(model: torch.nn.Module, classic: ClassicISP, images: EvalSet, folder: Path) -> list[str]:
    """Fig.-1-style images of the first scored image: raw, classical ISP, model, target."""
    from isplab.models.ops import finest_output

    raw, target = images.first()
    with torch.no_grad():
        outputs = {"raw": raw_visualisation(raw), "classic_isp": classic(raw[None])[0],
                   "model": finest_output(model.eval()(raw[None]))[0].clamp(0, 1), "target": target}
    return [_to_png(img, folder / "crops" / f"{name}.png") for name, img in outputs.items()]


def _test_scores(model: torch.nn.Module, run_data: RunData, split: str, batch_size: int) -> dict:
    """The test split's scores beside the scored split's (when the data has one and it is not the scored one)."""
    if split == "test" or run_data.test is None:
        return {}
    m = evaluate(model, run_data.test, batch_size=batch_size)
    return {"test_psnr": m["psnr"], "test_ssim": m["ssim"], "test_delta_e": m["delta_e"],
            "test_on": run_data.test.description}


@dataclass(frozen=True)
class BenchSpec:
    """How a trained model is exported and timed: packed ``input_size``, timed ``runs`` after ``warmup``."""

    input_size: tuple[int, int]
    runs: int
    warmup: int


def train_to_end(cfg: TrainConfig, run_dir: Path, progress: bool, log: Callable[[str], None], name: str) -> Path:
    """Train ``cfg`` into ``run_dir`` unless its last checkpoint already reached the end (an interrupted run
    resumes); returns that checkpoint."""
    from isplab.train.engine import train

    last = run_dir / "checkpoints" / "last.pt"
    done = last.is_file() and load_checkpoint(last)["step"] >= cfg.total_steps
    if not done:
        log(f"{name}: training {cfg.total_steps} steps (batch {cfg.data.batch_size}, {cfg.data.patch} px)")
        train(cfg, run_dir, resume=last.is_file(), progress=progress)
    return last


def train_and_score(
    name: str, cfg: TrainConfig, folder: Path, split: str, threads: int, progress: bool,
    log: Callable[[str], None], bench: BenchSpec | None,
) -> ModelResult:
    """Train (or resume) ``cfg`` into ``folder/run``, score its last checkpoint on ``split`` and, with
    ``bench``, export it (parity + GPU audit) and time it; crops go to ``folder/crops`` (paths relative to
    ``folder``). Without ``bench`` the result has no size, runtime or score."""
    last = train_to_end(cfg, folder / "run", progress, log, name)
    model, state = load_model_from_checkpoint(last)
    run_data = build_run_data(cfg.data, cfg.seed)
    images = scored_set(run_data, split)
    metrics = evaluate(model, images, batch_size=cfg.data.batch_size)
    log(f"{name}: PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f}, ΔE {metrics['delta_e']:.2f} on "
        f"{images.description}")
    train_metrics = state.get("metrics", {})
    result = ModelResult(
        model=name, psnr=metrics["psnr"], ssim=metrics["ssim"], delta_e=metrics["delta_e"],
        crops=save_crops(model, classic_for(cfg.data), images, folder),
        extra={"scored_on": images.description, "split": images.split, "train_steps": cfg.total_steps,
               "train_s": train_metrics.get("train_s"), "checkpoint_step": state.get("step"),
               "trained": training_mode(state.get("config") or {}),
               **_test_scores(model, run_data, split, cfg.data.batch_size)},
    )
    if bench is None:
        return result
    from isplab.bench import bench_tflite
    from isplab.export import export_tflite

    tflite = folder / "model.tflite"
    report = export_tflite(model, tflite, input_size=bench.input_size, parity_inputs=[images.first()],
                           raw_domain=raw_domain(state, last))
    write_text_atomic(folder / "export.txt", report.render() + "\n")
    log(f"{name}: exported {tflite} ({report.size_bytes / 2**20:.3f} MB), parity max-abs "
        f"{report.parity.max_abs:.2e}, GPU audit {'clean' if report.audit.clean else 'PROBLEMS'}")
    timed = bench_tflite(tflite, input_size=bench.input_size, threads=threads, runs=bench.runs, warmup=bench.warmup)
    accel = accel_cells(model, cfg.model, bench.input_size, folder, lambda m: log(f"{name}: {m}"))
    return replace(
        result, size_mb=report.size_bytes / 2**20, cpu_runtime_ms=timed.median_ms,
        final_score=final_score(metrics["psnr"], timed.median_ms),
        gpu_audit="pass" if report.audit.clean else report.audit.summary(), tflite=str(tflite.relative_to(folder)),
        input_size=list(bench.input_size), threads=threads,
        extra={**result.extra, "parity_max_abs": report.parity.max_abs, "peak_mem_mb": timed.peak_mem_mb,
               **({"accel": accel} if accel else {})})


def accel_cells(model: torch.nn.Module, name: str, input_size: tuple[int, int], folder: Path,
                log: Callable[[str], None]) -> dict[str, str] | None:
    """Registered model ``name`` on Qualcomm's HTP (SM8450) and LiteRT's GPU runtime at a tile, when their
    toolchains are set up (:mod:`isplab.accel`): the leaderboard's cells, the full report in
    ``folder/accel.txt``."""
    from isplab.accel.check import check_model, fit_tile
    from isplab.accel.tile import DEFAULT_TILE
    from isplab.accel.toolchains import TARGETS, Toolchains

    chains = Toolchains.load()
    ready = [t for t in TARGETS if chains.missing(t) is None]
    if not ready:
        log(f"accelerators not checked: {chains.missing('htp')}")
        return None
    tile = fit_tile(name, tuple(min(s, d) for s, d in zip(input_size, DEFAULT_TILE, strict=True)))
    report = check_model(model, name, ready, tile, int8=False, chains=chains)
    write_text_atomic(folder / "accel.txt", report.render() + "\n")
    cells = report.cells()
    log(", ".join(f"{k} {v}" for k, v in cells.items()))
    return cells


def run_model(
    name: str, budget: Budget, out: Path, data: str | None, threads: int, progress: bool,
    log: Callable[[str], None], split: str = "val", init: str = "scratch", device: str = "auto",
) -> ModelResult:
    """Train -> evaluate -> export -> bench -> score one model, skipping finished steps."""
    folder = out / "models" / name
    result_path = folder / "result.json"
    if result_path.is_file():
        log(f"{name}: finished earlier, reusing {result_path}")
        return ModelResult.from_json(result_path)
    cfg = replace(challenge_config(name, budget, data, init), device=device)
    bench = BenchSpec(budget.input_size, budget.bench_runs, budget.bench_warmup)
    result = train_and_score(name, cfg, folder, split, threads, progress, log, bench)
    result.extra["init"] = init_label(name, init)
    result.to_json(result_path)
    return ModelResult.from_json(result_path)  # resolves crop paths against the model folder


def classic_result(cfg: TrainConfig, split: str = "val") -> ModelResult:
    """The classical reference ISP scored on the images ``cfg``'s models are scored on (no runtime: it is not
    a network)."""
    run_data = build_run_data(cfg.data, cfg.seed)
    images = scored_set(run_data, split)
    isp = classic_for(cfg.data)
    m = evaluate(isp, images, batch_size=4)
    return ModelResult(model=CLASSIC_ROW, framework="isplab.classic (reference)", psnr=m["psnr"], ssim=m["ssim"],
                       delta_e=m["delta_e"], notes=isp.describe(),
                       extra={"scored_on": images.description, "split": images.split,
                              **_test_scores(isp, run_data, split, 4)})


def classic_row(budget: Budget, data: str | None, out: Path, split: str = "val") -> ModelResult:
    """The classical reference ISP on the challenge's images, saved as ``OUT/models/classic_isp/result.json``."""
    result = classic_result(challenge_config(DEFAULT_MODELS[0], budget, data), split)
    path = result.to_json(out / "models" / CLASSIC_ROW / "result.json")
    return ModelResult.from_json(path)


def run_challenge(
    out: str | Path = "challenge",
    models: Sequence[str] = DEFAULT_MODELS,
    budget: str = "quick",
    data: str | None = None,
    threads: int = 2,
    progress: bool = True,
    log: Callable[[str], None] = print,
    split: str = "val",
    init: str = "scratch",
    device: str = "auto",
) -> Leaderboard:
    """Run the challenge for ``models`` and write ``OUT/leaderboard.{md,html}``; returns the leaderboard.

    ``split``: the images scored (``val`` or ``test``; never trained on either way). ``init``: ``scratch``
    or ``pretrained`` (fine-tune the shipped weights where a model has them; the leaderboard says which).
    ``device``: where the models train (``auto``, ``cpu`` or ``cuda``); scoring, export and benchmarks run on
    the CPU."""
    from isplab.errors import IsplabError
    from isplab.extras import require
    from isplab.models import model_entry
    from isplab.train.device import resolve_device

    require("export", "isplab challenge (it exports every model)")
    if budget not in BUDGETS:
        raise IsplabError(f"unknown budget {budget!r}; use one of {', '.join(BUDGETS)}")
    for name in models:
        model_entry(name)  # fail fast on a typo, before hours of training
    out, spec = Path(out), BUDGETS[budget]
    torch.set_num_threads(threads)
    if split not in SPLITS:
        raise IsplabError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if init not in INITS:
        raise IsplabError(f"unknown init {init!r}; use one of {', '.join(INITS)}")
    resolve_device(device, option="--device")  # fail fast when cuda is asked for and absent
    results = [run_model(name, spec, out, data, threads, progress, log, split, init, device) for name in models]
    results.append(classic_row(spec, data, out, split))
    board = Leaderboard(results)
    md, page = board.write(out)
    write_text_atomic(out / "results.json", json.dumps([r.to_dict() for r in results], indent=2) + "\n")
    log(board.to_markdown(image_base=out))
    log(f"wrote {md} and {page}")
    return board
