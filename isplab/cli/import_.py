"""``isplab import``: official TFLite or community PyTorch weights into an isplab checkpoint."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import official .tflite or community .pth weights into an isplab checkpoint",
                       description="Read the weights of an official TFLite file (e.g. the MicroISP release) "
                                   "or a community PyTorch state dict (Arhire & Timofte, CVPRW 2025: efficientisp, "
                                   "robustisp, rmfanet_tiny) into the isplab model of the same architecture and "
                                   "save a checkpoint carrying the input normalisation the weights expect.")
    p.add_argument("model", help="isplab model name with a TFLite mapper (e.g. microisp, jmu_cvlab) or a PyTorch "
                                 "source (efficientisp, robustisp, rmfanet_tiny)")
    p.add_argument("--from", dest="source", required=True, help="the .tflite or .pth file")
    p.add_argument("--out", required=True, help="checkpoint .pt to write")
    p.add_argument("--input-scale", type=float,
                   help="white level of the file's raw input, where the mapper takes one (jmu_cvlab)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.models.imports import pytorch_sources

    if args.model in pytorch_sources():
        return run_pytorch(args)
    from isplab.export.tflite_weights import load_tflite_model
    from isplab.models import count_parameters
    from isplab.models.weights import model_checkpoint, save_checkpoint

    options = {} if args.input_scale is None else {"input_scale": args.input_scale}
    model = load_tflite_model(args.model, args.source, **options)
    path = save_checkpoint(args.out, model_checkpoint(args.model, {}, model))
    print(f"imported {count_parameters(model):,} parameters of {args.source} into {args.model} -> {path}")
    return 0


def run_pytorch(args: argparse.Namespace) -> int:
    """A community ``.pth`` (:mod:`isplab.models.imports`): the checkpoint carries the authors' raw domain."""
    from isplab.models import count_parameters
    from isplab.models.imports import import_pytorch
    from isplab.models.weights import model_checkpoint, save_checkpoint

    model_name, model, domain = import_pytorch(args.model, args.source)
    path = save_checkpoint(args.out, model_checkpoint(model_name, {}, model, domain))
    print(f"imported {count_parameters(model):,} parameters of {args.source} into {model_name} -> {path}")
    return 0
