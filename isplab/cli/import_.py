"""``isplab import``: official TFLite weights into an isplab checkpoint."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import an official .tflite's weights into an isplab checkpoint",
                       description="Read the weights of an official TFLite file (e.g. the MicroISP release) "
                                   "into the isplab model of the same architecture and save a checkpoint.")
    p.add_argument("model", help="isplab model name with a TFLite mapper (e.g. microisp, jmu_cvlab)")
    p.add_argument("--from", dest="source", required=True, help="the .tflite file")
    p.add_argument("--out", required=True, help="checkpoint .pt to write")
    p.add_argument("--input-scale", type=float,
                   help="white level of the file's raw input, where the mapper takes one (jmu_cvlab)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.export.tflite_weights import load_tflite_model
    from isplab.models import count_parameters
    from isplab.train.checkpoint import model_checkpoint, save_checkpoint

    options = {} if args.input_scale is None else {"input_scale": args.input_scale}
    model = load_tflite_model(args.model, args.source, **options)
    path = save_checkpoint(args.out, model_checkpoint(args.model, {}, model))
    print(f"imported {count_parameters(model):,} parameters of {args.source} into {args.model} -> {path}")
    return 0
