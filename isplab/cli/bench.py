"""``isplab bench``: CPU runtime of a ``.tflite`` (LiteRT XNNPACK) or an isplab checkpoint (eager torch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isplab.cli.args import parse_size


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time a .tflite or checkpoint on CPU",
                       description="Time inference on CPU: a .tflite with LiteRT (XNNPACK), anything else as "
                                   "an isplab checkpoint with eager torch. Runs in a subprocess for a clean "
                                   "memory peak.")
    p.add_argument("model", type=Path, help="MODEL.tflite, CKPT.pt or pretrained:NAME")
    p.add_argument("--input-size", type=parse_size, default=None, metavar="HxW",
                   help="packed raw input size (default: the .tflite's own shape; 544x960 for checkpoints, "
                        "the report's Full HD)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--profile", action="store_true", help="per-op times (torch only; LiteRT has no profiler)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT",
                   help="also write the full result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.atomic import check_writable, remove_stale_temps
    from isplab.bench import DEFAULT_INPUT_SIZE, bench_tflite, bench_torch
    from isplab.paths import check_apart

    check_apart({"MODEL": args.model}, {"--json": args.json})
    if args.json is not None:
        remove_stale_temps(check_writable(args.json, "benchmark JSON (--json)").parent)
    if args.model.suffix.lower() == ".tflite":
        result = bench_tflite(args.model, args.input_size, args.threads, args.runs, args.warmup, args.profile)
    else:
        result = bench_torch(args.model, args.input_size or DEFAULT_INPUT_SIZE, args.threads, args.runs,
                             args.warmup, args.profile)
    print(result.render())
    if args.profile and not result.profile:
        print("profile: not available (the LiteRT Python interpreter has no op profiler)")
    if args.json is not None:
        result.to_json(args.json)
        print(f"wrote {args.json}")
    return 0
