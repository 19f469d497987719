"""``isplab export``: checkpoint (or fresh registered model) -> optimised, proven, audited ``.tflite``."""

from __future__ import annotations

import argparse

from isplab.cli.args import finite_float, parse_size
from isplab.cli.develop import add_raw_options, raw_options
from isplab.runtime import FULL_HD_INPUT


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="convert a model to .tflite (optimised, parity-checked, GPU-audited)",
        description="Convert a checkpoint (or a freshly initialised registered model) to TensorFlow Lite "
                    "for the AI Benchmark app: NHWC float32 input raw [1,H,W,4], output rgb [1,2H,2W,3]. "
                    "The graph optimiser rewrites the model into an equivalent faster one first; the file is "
                    "written only if the parity proof against the original model passes.")
    p.add_argument("--weights", metavar="CKPT", help="checkpoint written by `isplab train` / `isplab import`, "
                                                "or pretrained:NAME")
    p.add_argument("--model", metavar="NAME", help="registered model (without --weights: random init, for "
                                                   "size and runtime tests)")
    p.add_argument("--out", required=True, metavar="FILE", help="output .tflite path")
    p.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32")
    p.add_argument("--input-size", type=parse_size, default=FULL_HD_INPUT, metavar="HxW",
                   help="packed input size (default 544x960 = Full HD 1088x1920 output); with --dynamic "
                        "the tracing and parity size")
    p.add_argument("--dynamic", action="store_true", help="dynamic height/width [1,-1,-1,4] (not optimised)")
    p.add_argument("--optimize", action=argparse.BooleanOptionalAction, default=True,
                   help="rewrite the graph into an equivalent faster one before conversion (default: on)")
    p.add_argument("--int8-io", action="store_true", help="int8 input/output tensors (with --precision int8)")
    p.add_argument("--strict", action="store_true",
                   help="fail if the model will not run fully on a mobile GPU (LiteRT's GPU runtime with --accel "
                        "gpu, else the static audit) or, with --accel htp, leaves ops off the HTP")
    p.add_argument("--accel", metavar="TARGETS",
                   help="after the parity proof, check the model on real accelerators: htp[:SoC], gpu "
                        "(e.g. htp,gpu; toolchains from `isplab accel setup`); a wrong output fails the export")
    p.add_argument("--accel-tile", type=parse_size, metavar="HxW",
                   help="packed tile the accelerators run (default 162x216, fitted to the model)")
    p.add_argument("--fp32-tol", type=finite_float, default=1e-3, help="fp32 max-abs tolerance (default 1e-3; an "
                                                                "optimised graph is held to 1e-5)")
    p.add_argument("--fp16-budget", type=finite_float, default=0.1, help="fp16 PSNR loss budget, dB (default 0.1)")
    p.add_argument("--int8-budget", type=finite_float, default=1.0, help="int8 PSNR loss budget, dB (default 1.0)")
    p.add_argument("--calib-data", metavar="DIR", help="dataset folder (UltraISP/Zurich layout) for int8 "
                                                        "calibration")
    p.add_argument("--parity-data", metavar="DIR", help="dataset folder whose targets make the fp16/int8 "
                                                         "budgets target-based (default: --calib-data)")
    p.add_argument("--parity-raw", action="append", default=[], metavar="FILE",
                   help="real raw frame for the parity proof (repeat for several; geometry options below)")
    add_raw_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.atomic import check_writable, remove_stale_temps
    from isplab.errors import IsplabError
    from isplab.export.convert import export_tflite
    from isplab.export.parity import ParityBudget
    from isplab.export.sources import export_data, load_export_model, read_raw_frames
    from isplab.paths import check_apart

    check_apart({"--weights": args.weights, "--calib-data": args.calib_data, "--parity-data": args.parity_data,
                 "--parity-raw": args.parity_raw}, {"--out": args.out})
    if args.int8_io and args.precision != "int8":
        raise IsplabError("--int8-io needs --precision int8")
    if args.precision == "int8" and not args.calib_data:
        raise IsplabError("--precision int8 needs --calib-data DIR (a dataset folder with training raws) "
                          "to calibrate activation ranges")
    budget = ParityBudget(fp32_max_abs=args.fp32_tol, fp16_psnr_loss=args.fp16_budget,
                          int8_psnr_loss=args.int8_budget)
    if args.parity_raw:
        from isplab.develop.pipeline import DevelopSettings, check_settings

        check_settings(DevelopSettings(read_options=raw_options(args)))
    remove_stale_temps(check_writable(args.out, "exported model (--out)").parent)
    model, name, domain = load_export_model(args.weights, args.model)
    accel_check = None
    if args.accel:
        from isplab.accel.check import export_check

        accel_check = export_check(model, name, args.accel, args.input_size, args.accel_tile, args.precision,
                                   args.optimize)
    calibration, parity_inputs = export_data(args.calib_data, args.parity_data or args.calib_data)
    report = export_tflite(
        model, args.out, input_size=args.input_size, precision=args.precision, calibration=calibration,
        int8_io=args.int8_io, parity_inputs=parity_inputs, raw_frames=read_raw_frames(args.parity_raw,
                                                                                      raw_options(args)),
        budget=budget, dynamic=args.dynamic, strict=args.strict, optimize=args.optimize, raw_domain=domain,
        accel_check=accel_check)
    print(f"model {name}")
    print(report.render())
    return 0
