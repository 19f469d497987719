"""``isplab adapt``: few-shot fine-tuning of trained weights on a few pairs of a new camera."""

from __future__ import annotations

import argparse

from isplab.cli.args import add_device_arguments, finite_float


def add_parser(sub: argparse._SubParsersAction) -> None:
    from isplab.train.adapt import DEFAULT_LR, DEFAULT_SHOTS, DEFAULT_STEPS  # torch-free module

    p = sub.add_parser("adapt", help="fine-tune weights on a few pairs of a new camera (few-shot)",
                       description="Fine-tune a model on the first N training pairs of a paired dataset folder "
                                   "of a new camera (short cosine schedule at a low learning rate), validating "
                                   "on the folder's val split.")
    p.add_argument("--weights", required=True, help="weights to start from: checkpoint .pt or pretrained:NAME")
    p.add_argument("--data", required=True, help="paired dataset folder of the new camera (UltraISP layout)")
    p.add_argument("--out", required=True, help="run directory (config.yml, checkpoints/, tb/)")
    p.add_argument("--shots", type=int, default=DEFAULT_SHOTS,
                   help=f"training pairs to use, the first ones in file order (default {DEFAULT_SHOTS})")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS, help=f"optimisation steps (default {DEFAULT_STEPS})")
    p.add_argument("--lr", type=finite_float, default=DEFAULT_LR,
                   help=f"peak learning rate, cosine to 1%% of it (default {DEFAULT_LR})")
    p.add_argument("--seed", type=int, default=0)
    add_device_arguments(p, default="auto")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.paths import check_apart
    from isplab.train.adapt import adapt_config, run_adapt

    check_apart({"--weights": args.weights, "--data": args.data}, {}, {"--out": args.out})
    cfg = adapt_config(args.weights, args.data, shots=args.shots, steps=args.steps, lr=args.lr, seed=args.seed,
                       device=args.device, amp=args.amp or "none")
    result = run_adapt(cfg, args.out, progress=not args.no_progress)
    shown = ", ".join(f"{k} {result.metrics[k]:.4f}" for k in ("psnr", "ssim", "delta_e") if k in result.metrics)
    print(f"adapted {cfg.model} from {args.weights} on {args.shots} pair(s) of {args.data} in {result.step} steps "
          f"({result.metrics['train_s']:.1f}s) -> {args.out}/checkpoints/last.pt (val {shown})")
    return 0
