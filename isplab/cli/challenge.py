"""``isplab challenge``: the main job — train, evaluate, export, benchmark and rank each model."""

from __future__ import annotations

import argparse

from isplab.cli.args import add_device_arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    # Literal choices: building the parser must not import torch (``isplab --help`` stays fast).
    p = sub.add_parser("challenge", help="run the MAI 2022 challenge end to end and write a leaderboard")
    p.add_argument("--out", default="challenge", help="output folder (re-running skips finished models)")
    p.add_argument("--models", default="mialgo_3conv,microisp,pynetv2_mobile", help="comma-separated model names")
    p.add_argument("--budget", default="quick", choices=["tiny", "quick", "full"],
                   help="tiny (smoke test), quick (minutes on a laptop CPU) or full (the recipes' schedules)")
    p.add_argument("--data", help="dataset folder; default: the embedded data (drawn on the fly)")
    p.add_argument("--split", default="val", choices=["val", "test"],
                   help="images scored on the leaderboard (never trained on): val (default) or test; the "
                        "test split's scores are shown beside the val ones")
    p.add_argument("--init", default="scratch", choices=["scratch", "pretrained"],
                   help="scratch (default) or pretrained: fine-tune the weights shipped with isplab (models "
                        "without them start from scratch; the leaderboard says which)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads for training and benchmarking")
    add_device_arguments(p, amp=False, default="auto")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.challenge.run import run_challenge
    from isplab.paths import check_apart

    check_apart({"--data": args.data}, {}, {"--out": args.out})
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    run_challenge(args.out, models, args.budget, args.data, args.threads, progress=not args.no_progress,
                  split=args.split, init=args.init, device=args.device)
    return 0
