"""``isplab compare``: side-by-side 100% crops of one raw frame developed by several ISPs (HTML report)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isplab.cli.develop import adapter_settings, add_adapter_options, add_raw_options, add_tiling_options, raw_options


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="visual report: one raw frame through the classical ISP and models",
                       description="Develop one raw frame with the classical ISP and every --weights, and write "
                                   "a self-contained HTML page of 100%% crops (plus the crops as PNGs): raw, "
                                   "classical ISP, each model, and the target when the input is a dataset raw.")
    p.add_argument("input", metavar="INPUT", help="a raw file (DNG/..., .png mosaic, .raw)")
    p.add_argument("--weights", action="append", default=[],
                   help="checkpoint .pt, pretrained:NAME or .tflite (repeat for several models)")
    p.add_argument("--out", required=True, help="report .html to write")
    p.add_argument("--crop-size", type=int, default=384, help="crop side in output pixels")
    p.add_argument("--crop-at", type=int, nargs=2, metavar=("Y", "X"), help="crop top-left (default: centred)")
    add_tiling_options(p)
    add_adapter_options(p)
    add_raw_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.develop.compare import check_crop, compare, crops_folder, dataset_target
    from isplab.develop.pipeline import DevelopSettings, check_settings
    from isplab.paths import check_apart

    check_apart({"INPUT": [args.input, dataset_target(Path(args.input))], "--weights": args.weights},
                {"--out": args.out}, {"--out": crops_folder(args.out)})

    settings = check_settings(DevelopSettings(tile=args.tile, overlap=args.overlap, read_options=raw_options(args),
                                              **adapter_settings(args)))
    at = tuple(args.crop_at) if args.crop_at else None
    check_crop(args.crop_size, at)
    out = compare(args.input, args.weights, args.out, args.crop_size, at, settings)
    print(f"wrote {out} and {crops_folder(out)}/")
    return 0
