"""``isplab import``: official TFLite or community PyTorch weights into an isplab checkpoint."""

from __future__ import annotations

import argparse
from pathlib import Path

from isplab.cli.args import finite_float


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
    p.add_argument("--input-scale", type=finite_float,
                   help="white level of the file's raw input, where the mapper takes one (jmu_cvlab)")
    p.add_argument("--no-calibrate", action="store_true",
                   help="do not find the model's neutral (by default the import runs `isplab calibrate` on the "
                        "new checkpoint, so the camera adapter can white-balance frames for it)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from isplab.atomic import check_writable, make_temp, remove_stale_temps
    from isplab.models import count_parameters
    from isplab.models.imports import import_pytorch, pytorch_sources
    from isplab.models.weights import model_checkpoint, save_checkpoint
    from isplab.paths import check_apart

    check_apart({"--from": args.source}, {"--out": args.out})
    out = check_writable(args.out, "checkpoint (--out)")
    remove_stale_temps(out.parent)
    if args.model in pytorch_sources():  # community .pth: the importer knows the authors' raw domain
        model_name, model, domain = import_pytorch(args.model, args.source)
    else:
        from isplab.export.tflite_weights import imported_domain, load_tflite_model

        options = {} if args.input_scale is None else {"input_scale": args.input_scale}
        model_name, model = args.model, load_tflite_model(args.model, args.source, **options)
        domain = imported_domain(args.model, args.input_scale)
    checkpoint = model_checkpoint(model_name, {}, model, domain)
    print(f"imported {count_parameters(model):,} parameters of {args.source} into {model_name} -> {out} "
          f"(raw domain: {domain.camera or 'unnamed'})")
    if args.no_calibrate or domain.neutral is not None:
        save_checkpoint(out, checkpoint)
        return 0
    # Calibrated from a temp file into --out: a killed import leaves no uncalibrated --out.
    fd, tmp = make_temp(out)
    os.close(fd)
    try:
        save_checkpoint(tmp, checkpoint)
        if not _calibrate(tmp, out):
            save_checkpoint(out, checkpoint)
    finally:
        os.unlink(tmp)
    return 0


def _calibrate(tmp: str, out: Path) -> bool:
    """Calibrate the imported checkpoint ``tmp`` into ``out`` (in ``out``'s format); a failed calibration says
    what is missing and returns False (the caller keeps the import uncalibrated)."""
    from isplab.camera.calibrate import calibrate_checkpoint
    from isplab.cli.calibrate import report
    from isplab.errors import IsplabError

    try:
        report(*calibrate_checkpoint(tmp, out))
    except IsplabError as exc:  # the import itself succeeded: keep its checkpoint, say what is missing
        print(f"warning: {str(exc).replace(tmp, str(out))}; the checkpoint has no neutral (the camera adapter will "
              f"not white-balance for it). Retry with `isplab calibrate --weights {out} --levels ...`")
        return False
    return True
