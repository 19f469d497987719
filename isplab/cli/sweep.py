"""``isplab sweep``: train several configs/models (locally or as Ray tasks) and rank them on one leaderboard."""

from __future__ import annotations

import argparse
import sys

from isplab.cli.args import finite_float, parse_size
from isplab.runtime import FULL_HD_INPUT


def add_parser(sub: argparse._SubParsersAction) -> None:
    # Literal choices: building the parser must not import torch (``isplab --help`` stays fast).
    p = sub.add_parser(
        "sweep", help="train several configs/models (Ray optional) and rank them on one leaderboard",
        description="Train each config (or model) as one job, score it like `isplab challenge` (PSNR/SSIM/ΔE "
                    "on images never trained on; export + CPU benchmark unless --no-bench) and write "
                    "OUT/leaderboard.{md,html}. Re-running with the same --out skips finished runs and resumes "
                    "interrupted ones. A failing run is listed under 'Failed runs' and does not stop the others; "
                    "the exit code is then 1.")
    p.add_argument("configs", nargs="*", metavar="CONFIG",
                   help="training YAML paths or recipe names from isplab/configs/ (a run is named after the file)")
    p.add_argument("--models", help="comma-separated model names, each trained with the config `isplab challenge` "
                                    "gives it under --budget")
    p.add_argument("--budget", default="quick", choices=["tiny", "quick", "full"],
                   help="for --models: the challenge budget whose plans they train with (default quick)")
    p.add_argument("--out", required=True, help="output folder (runs/<name>/, leaderboard.md/.html, results.json)")
    p.add_argument("--steps", type=int, help="total training steps of every run (schedules rescaled)")
    p.add_argument("--data", help="dataset folder for every run; default: each config's (embedded data)")
    p.add_argument("--split", default="val", choices=["val", "test"], help="images scored (never trained on)")
    p.add_argument("--ray", metavar="ADDRESS",
                   help="run each training as a Ray task: local (start Ray in this process), auto (join the "
                        "cluster running on this machine), HEAD:6379 or ray://HEAD:10001; needs isplab[ray]")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads per run; with --ray also the CPUs each task reserves (default 1)")
    p.add_argument("--gpus-per-task", type=finite_float, default=0.0, help="with --ray: GPUs each task reserves")
    p.add_argument("--no-bench", action="store_true", help="skip export + CPU benchmark (no runtime or score)")
    p.add_argument("--input-size", type=parse_size, default=FULL_HD_INPUT, metavar="HxW",
                   help="packed export/benchmark size (default 544x960: Full HD output)")
    p.add_argument("--bench-runs", type=int, default=3, help="timed benchmark runs per model (default 3)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.challenge.run import BenchSpec
    from isplab.paths import check_apart
    from isplab.sweep import plan_runs, run_sweep

    models = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    runs = plan_runs(args.configs, models, args.budget, args.data, args.steps)
    check_apart({"CONFIG": args.configs, **{f"{r.name}: {key}": paths for r in runs
                                             for key, paths in r.config.input_paths().items()}},
                {}, {"--out": args.out})
    bench = None if args.no_bench else BenchSpec(args.input_size, args.bench_runs, 1)
    result = run_sweep(runs, args.out, ray_address=args.ray, split=args.split, threads=args.threads, bench=bench,
                       gpus_per_task=args.gpus_per_task, progress=not args.no_progress)
    print(result.board.to_markdown(image_base=args.out), end="")
    if result.failures:
        print(f"isplab sweep: {len(result.failures)} of {len(runs)} runs failed: "
              + "; ".join(f"{n}: {e}" for n, e in result.failures.items()), file=sys.stderr)
        return 1
    return 0
