"""``isplab export``: checkpoint (or fresh registered model) -> proven, audited ``.tflite``."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from isplab.errors import IsplabError

CALIB_SAMPLES = 64
PARITY_SAMPLES = 8


def parse_size(text: str) -> tuple[int, int]:
    """``"544x960"`` -> ``(544, 960)`` (packed height x width)."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX,]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"input size {text!r} is not HxW, e.g. 544x960")
    return int(m.group(1)), int(m.group(2))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="convert a model to .tflite (parity-checked, GPU-audited)",
        description="Convert a checkpoint (or a freshly initialised registered model) to TensorFlow Lite "
                    "for the AI Benchmark app: NHWC float32 input raw [1,H,W,4], output rgb [1,2H,2W,3]. "
                    "The file is written only if the parity proof passes.")
    p.add_argument("--weights", metavar="CKPT", help="checkpoint written by `isplab train` / `isplab import`")
    p.add_argument("--model", metavar="NAME", help="registered model (without --weights: random init, for "
                                                   "size and runtime tests)")
    p.add_argument("--out", required=True, metavar="FILE", help="output .tflite path")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32")
    p.add_argument("--input-size", type=parse_size, default=(544, 960), metavar="HxW",
                   help="packed input size (default 544x960 = Full HD 1088x1920 output); with --dynamic "
                        "the tracing and parity size")
    p.add_argument("--dynamic", action="store_true", help="dynamic height/width [1,-1,-1,4]")
    p.add_argument("--int8-io", action="store_true", help="int8 input/output tensors (with --precision int8)")
    p.add_argument("--strict", action="store_true", help="fail if the mobile-GPU audit finds problems")
    p.add_argument("--fp32-tol", type=float, default=1e-4, help="fp32 max-abs tolerance (default 1e-4)")
    p.add_argument("--fp16-budget", type=float, default=0.1, help="fp16 PSNR loss budget, dB (default 0.1)")
    p.add_argument("--int8-budget", type=float, default=1.0, help="int8 PSNR loss budget, dB (default 1.0)")
    p.add_argument("--calib-data", metavar="DIR", help="dataset folder (UltraISP/Zurich layout) for int8 "
                                                        "calibration")
    p.add_argument("--parity-data", metavar="DIR", help="dataset folder whose targets make the fp16/int8 "
                                                         "budgets target-based (default: --calib-data)")
    p.set_defaults(func=run)


def _load_model(args: argparse.Namespace):
    from isplab.models import create_model

    if args.weights:
        from isplab.train.checkpoint import load_model_from_checkpoint

        model, state = load_model_from_checkpoint(args.weights)
        if args.model and args.model != state["model_name"]:
            raise IsplabError(f"{args.weights}: holds a {state['model_name']!r} model, not {args.model!r}. "
                              "Drop --model or pass the matching checkpoint")
        return model, state["model_name"]
    if not args.model:
        raise IsplabError("nothing to export: pass --weights CKPT, or --model NAME for a freshly initialised "
                          "model (see `isplab models`)")
    return create_model(args.model).eval(), args.model


def _dataset_items(folder: str, count: int, skip: set[int] | None = None) -> tuple[list, set[int]]:
    """``count`` evenly spaced ``(raw, target)`` items of a dataset folder (avoiding ``skip``)."""
    from isplab.data.datasets import PairedRawDataset

    data = PairedRawDataset(folder)
    # a dataset too small to keep parity apart from calibration is reused whole
    free = [i for i in range(len(data)) if i not in (skip or set())] or list(range(len(data)))
    picks = sorted({free[int(k)] for k in np.linspace(0, len(free) - 1, min(count, len(free)))})
    return [data[i] for i in picks], set(picks)


def run(args: argparse.Namespace) -> int:
    from isplab.export.convert import export_tflite
    from isplab.export.parity import Budgets

    if args.int8_io and args.precision != "int8":
        raise IsplabError("--int8-io needs --precision int8")
    if args.precision == "int8" and not args.calib_data:
        raise IsplabError("--precision int8 needs --calib-data DIR (a dataset folder with training raws) "
                          "to calibrate activation ranges")
    model, name = _load_model(args)
    calibration, used = None, set()
    if args.calib_data:
        calibration, used = _dataset_items(args.calib_data, CALIB_SAMPLES)
    parity_inputs = None
    parity_dir = args.parity_data or args.calib_data
    if parity_dir:
        # keep parity patches apart from calibration patches when both come from the same folder
        skip = used if parity_dir == args.calib_data else None
        parity_inputs, _ = _dataset_items(parity_dir, PARITY_SAMPLES, skip)
    budgets = Budgets(fp32_max_abs=args.fp32_tol, fp16_psnr_loss=args.fp16_budget,
                      int8_psnr_loss=args.int8_budget)
    report = export_tflite(
        model, Path(args.out), input_size=args.input_size, precision=args.precision, calibration=calibration,
        int8_io=args.int8_io, parity_inputs=parity_inputs, budgets=budgets, dynamic=args.dynamic,
        strict=args.strict,
    )
    print(f"model {name}")
    print(report.render())
    return 0
