"""``isplab eval``: PSNR / SSIM / ΔE of a checkpoint on images never trained on, beside the classical ISP."""

from __future__ import annotations

import argparse

from isplab.cli.args import add_device_arguments, finite_float


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a checkpoint (PSNR/SSIM/ΔE) against the classical ISP")
    p.add_argument("--weights", required=True, help="checkpoint .pt or pretrained:NAME")
    p.add_argument("--data", help="dataset folder or packed store (isplab data pack); default: the embedded "
                   "val/test photos")
    p.add_argument("--split", default="val", choices=["val", "test", "all"],
                   help="val (default): the validation pairs/photos; test: the test split; all: every pair of "
                        "--data, training pairs included (see docs/training.md 'Splits')")
    p.add_argument("--val-fraction", type=finite_float, default=0.1,
                   help="held-out share of a folder without val/ (as in training; default 0.1)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--json", help="write the results as JSON here")
    p.add_argument("--camera", metavar="PROFILE",
                   help="camera profile (YAML, `isplab profile`) of --data's raws: they are mapped into the "
                        "checkpoint's colour space by the camera adapter before scoring (with the profile's "
                        "neutral)")
    add_device_arguments(p, amp=False, default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.errors import IsplabError
    from isplab.evaluate import evaluate_checkpoint
    from isplab.paths import check_apart

    check_apart({"--weights": args.weights, "--data": args.data}, {"--json": args.json})
    if args.batch_size < 1:
        raise IsplabError(f"--batch-size {args.batch_size}: must be >= 1. Omit it for the default 8")
    if not 0 < args.val_fraction < 1:
        raise IsplabError(f"--val-fraction {args.val_fraction}: must be in (0, 1). Omit it for the default 0.1")
    report = evaluate_checkpoint(args.weights, data=args.data, split=args.split, batch_size=args.batch_size,
                                 val_fraction=args.val_fraction, json_path=args.json,
                                 device=args.device, camera=args.camera)
    print(report.render())
    return 0
