"""``isplab eval``: PSNR/SSIM of a checkpoint on a dataset, beside the classical reference ISP."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from isplab.atomic import write_text_atomic


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="score a checkpoint (PSNR/SSIM) against the classical ISP")
    p.add_argument("--weights", required=True, help="checkpoint .pt")
    p.add_argument("--data", help="dataset folder; default: embedded data")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--json", help="write the results as JSON here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.classic import ClassicISP
    from isplab.data import PairedRawDataset, ensure_default_data
    from isplab.evaluate import evaluate
    from isplab.models.weights import load_model_from_checkpoint

    model, state = load_model_from_checkpoint(args.weights)
    dataset = PairedRawDataset(args.data if args.data else ensure_default_data())
    rows = {
        state["model_name"]: evaluate(model, dataset, args.batch_size, progress=True),
        "classic_isp": evaluate(ClassicISP(), dataset, args.batch_size),
    }
    print(f"{'model':<20} {'PSNR':>8} {'SSIM':>7}  ({len(dataset)} images)")
    for name, m in rows.items():
        print(f"{name:<20} {m['psnr']:>8.3f} {m['ssim']:>7.4f}")
    if args.json:
        payload = {"weights": str(args.weights), "data": str(dataset.root), "results": rows}
        write_text_atomic(Path(args.json), json.dumps(payload, indent=2) + "\n")
    return 0
