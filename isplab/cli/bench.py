"""``isplab bench``: CPU runtime of a ``.tflite`` (LiteRT XNNPACK) or an isplab checkpoint (eager torch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isplab.errors import IsplabError


def parse_size(text: str) -> tuple[int, int]:
    """``"544x960"`` -> ``(544, 960)`` (height x width of the packed raw input)."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use HxW, e.g. 544x960") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: both sides must be positive")
    return h, w


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="time a .tflite or checkpoint on CPU",
                       description="Time inference on CPU: a .tflite with LiteRT (XNNPACK), anything else as "
                                   "an isplab checkpoint with eager torch. Runs in a subprocess for a clean "
                                   "memory peak.")
    p.add_argument("model", type=Path, help="MODEL.tflite or CKPT.pt")
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
    from isplab.bench import DEFAULT_INPUT_SIZE, bench_tflite, bench_torch

    path: Path = args.model
    if not path.is_file():
        raise IsplabError(f"{path}: no such file. Pass a .tflite written by `isplab export` or an isplab "
                          "checkpoint (.pt) from `isplab train` / `isplab import`")
    if path.suffix.lower() == ".tflite":
        result = bench_tflite(path, args.input_size, args.threads, args.runs, args.warmup, args.profile)
    else:
        result = bench_torch(path, args.input_size or DEFAULT_INPUT_SIZE, args.threads, args.runs,
                             args.warmup, args.profile)
    mem = "n/a" if result.peak_mem_mb is None else f"{result.peak_mem_mb:.1f} MB ({result.memory_method})"
    size = "n/a" if result.file_size_bytes is None else f"{result.file_size_bytes / 1e6:.3f} MB"
    rows = [
        ("model", result.model),
        ("backend", f"{result.backend} ({result.runtime_version}), {result.threads} threads"),
        ("input -> output", f"{result.input_shape} -> {result.output_shape}"),
        ("median", f"{result.median_ms:.2f} ms"),
        ("mean +- std", f"{result.mean_ms:.2f} +- {result.std_ms:.2f} ms"),
        ("min / p90 / max", f"{result.min_ms:.2f} / {result.p90_ms:.2f} / {result.max_ms:.2f} ms"),
        ("runs (warmup)", f"{result.runs} ({result.warmup})"),
        ("peak memory", mem),
        ("file size", size),
    ]
    for key, value in rows:
        print(f"{key:<16} {value}")
    if result.profile:
        print("\ntop ops by self CPU time:")
        for op in result.profile[:10]:
            print(f"  {op['op']:<40} {op['self_ms']:9.2f} ms  x{op['calls']}")
    elif args.profile:
        print("profile: not available (the LiteRT Python interpreter has no op profiler)")
    if args.json is not None:
        result.to_json(args.json)
        print(f"wrote {args.json}")
    return 0
