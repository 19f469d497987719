"""``isplab accel``: set up the accelerator toolchains, and check a model on Qualcomm's HTP and LiteRT's GPU."""

from __future__ import annotations

import argparse

from isplab.cli.args import parse_size


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("accel", help="real accelerators: set up toolchains, check a model on HTP / GPU",
                       description="Compile and run a model on Qualcomm's HTP (AOT compiler + x86 simulator) and "
                                   "LiteRT's GPU runtime (WebGPU on Mesa's CPU Vulkan driver). Toolchains live in "
                                   "~/.cache/isplab/accel ($ISPLAB_ACCEL_CACHE).")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = actions.add_parser("setup", help="fetch and unpack the toolchains into the cache (pinned versions)")
    s.add_argument("--targets", default="htp,gpu", help="toolchains to set up: htp, gpu (default both)")
    s.add_argument("--cache", metavar="DIR", help="cache folder (default $ISPLAB_ACCEL_CACHE or "
                                                  "~/.cache/isplab/accel)")
    s.set_defaults(func=run_setup)
    st = actions.add_parser("status", help="which toolchains are set up")
    st.add_argument("--cache", metavar="DIR")
    st.set_defaults(func=run_status)
    c = actions.add_parser("check", help="check a .tflite, checkpoint or pretrained:NAME on the accelerators")
    c.add_argument("model", help=".tflite file, checkpoint, or pretrained:NAME")
    c.add_argument("--targets", default="htp,gpu",
                   help="htp[:SoC] (default SoC SM8450; SM8350, SM8475, SM8550, SM8650, SM8750), gpu, mediatek; "
                        "comma-separated (default htp,gpu)")
    c.add_argument("--tile", type=parse_size, default=None, metavar="HxW",
                   help="packed tile the accelerators run (default 162x216, fitted to the model)")
    c.add_argument("--samples", type=int, default=1, help="synthetic parity samples (default 1)")
    c.add_argument("--no-int8", action="store_true", help="checkpoints: skip the int8 export and HTP int8 run")
    c.add_argument("--optimize", action=argparse.BooleanOptionalAction, default=True,
                   help="checkpoints: export with the graph optimiser (default: on), as `isplab export`")
    c.add_argument("--strict", action="store_true", help="also fail on partial HTP offload and GPU CPU fallback")
    c.add_argument("--json", metavar="OUT", help="write the report as JSON")
    c.add_argument("--cache", metavar="DIR")
    c.set_defaults(func=run_check)


def run_setup(args: argparse.Namespace) -> int:
    from isplab.accel.toolchains import setup_toolchains

    targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    print(setup_toolchains(targets, args.cache).describe())
    return 0


def run_status(args: argparse.Namespace) -> int:
    from isplab.accel.toolchains import TARGETS, Toolchains

    chains = Toolchains.load(args.cache)
    print(chains.describe())
    return 0 if all(chains.missing(t) is None for t in TARGETS) else 1


def run_check(args: argparse.Namespace) -> int:
    import json

    from isplab.accel.check import check_path
    from isplab.accel.toolchains import Toolchains
    from isplab.atomic import check_writable, write_text_atomic
    from isplab.paths import check_apart

    check_apart({"MODEL": args.model}, {"--json": args.json})
    if args.json:
        check_writable(args.json, "report (--json)")
    report = check_path(args.model, args.targets, args.tile, samples=args.samples, int8=not args.no_int8,
                        optimize=args.optimize, chains=Toolchains.load(args.cache))
    print(report.render())
    failures = report.failures(args.strict)
    if args.json:
        write_text_atomic(args.json, json.dumps(report.to_dict(), indent=1) + "\n")
    for line in failures:
        print(f"FAIL {line}")
    return 1 if failures else 0
