"""``isplab inspect``: describe a ``.tflite`` (I/O, ops, size, parameters, MACs) and audit it for GPUs."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="describe a .tflite model and audit it for the mobile GPU delegate")
    p.add_argument("model", help=".tflite file")
    p.add_argument("--strict", action="store_true", help="exit 1 if the mobile-GPU audit finds problems")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.export.tflite_info import inspect_tflite

    info = inspect_tflite(args.model)
    print(info.render())
    return 1 if args.strict and not info.audit.clean else 0
