"""``isplab train``: train a registered model from a recipe / YAML config."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from isplab.cli.args import add_device_arguments

if TYPE_CHECKING:
    from isplab.train.config import TrainConfig


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (resumable)")
    p.add_argument("--model", help="registered model name (default: the config's)")
    p.add_argument("--data", help="dataset folder (UltraISP or Zurich layout) or a store from `isplab data pack`; "
                   "default: embedded data")
    p.add_argument("--out", required=True, help="run directory (config.yml, checkpoints/, tb/)")
    p.add_argument("--config", help="YAML config path or recipe name from configs/")
    p.add_argument("--steps", type=int, help="total steps (stages rescaled proportionally)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--init", help="start from these weights (checkpoint or pretrained:NAME) and fine-tune")
    p.add_argument("--camera", metavar="PROFILE",
                   help="camera profile (YAML, `isplab profile`) of --data's raws, recorded in the checkpoints "
                        "(data.camera): `isplab develop` then maps other cameras' frames into it")
    p.add_argument("--resume", action="store_true", help="continue RUNDIR/checkpoints/last.pt exactly")
    add_device_arguments(p)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def resolve_config(args: argparse.Namespace) -> TrainConfig:
    from isplab.config import check, load_yaml
    from isplab.train.config import TrainConfig
    from isplab.train.recipes import load_train_config

    saved = Path(args.out) / "config.yml"
    if args.resume and args.config is None and saved.is_file():
        cfg = load_yaml(TrainConfig, saved)
    else:
        cfg = load_train_config(args.config, args.model)
    if args.model:
        cfg = replace(cfg, model=args.model)
    if args.data:
        cfg = replace(cfg, data=replace(cfg.data, path=args.data))
    if args.camera:
        cfg = replace(cfg, data=replace(cfg.data, camera=args.camera))
    if args.batch_size is not None:
        check(args.batch_size >= 1, f"--batch-size must be >= 1, got {args.batch_size}")
        cfg = replace(cfg, data=replace(cfg.data, batch_size=args.batch_size))
    if args.seed is not None:
        cfg = replace(cfg, seed=args.seed)
    if args.init:
        cfg = replace(cfg, init=args.init)
    if args.device:
        cfg = replace(cfg, device=args.device)
    if args.amp:
        cfg = replace(cfg, amp=args.amp)
    if args.steps is not None:
        check(args.steps >= 1, f"--steps must be >= 1, got {args.steps}")
        cfg = cfg.with_total_steps(args.steps)
    return cfg


def run(args: argparse.Namespace) -> int:
    from isplab.paths import check_apart
    from isplab.train.engine import train

    cfg = resolve_config(args)
    inputs = cfg.input_paths()
    if args.resume:  # a resumed run reads its own checkpoint, not --init or another config
        inputs.pop("init", None)
    else:
        inputs["--config"] = [args.config] if args.config else []
    check_apart(inputs, {}, {"--out": args.out})
    result = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    if os.environ.get("RANK", "0") != "0":  # torchrun: one summary line, from rank 0
        return 0
    if result.already_finished:
        print(f"{result.run_dir}: already finished ({result.step} steps); nothing to do")
        return 0
    shown = ", ".join(f"{k} {result.metrics[k]:.4f}" for k in ("psnr", "ssim", "delta_e") if k in result.metrics)
    print(f"trained to step {result.step} in {result.metrics['train_s']:.1f}s (+{result.metrics['val_s']:.1f}s "
          f"validation) -> {result.run_dir} (val {shown})")
    return 0
