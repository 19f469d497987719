"""``isplab models``: list registered models with parameter counts."""

from __future__ import annotations

import argparse

from isplab.models import count_parameters, create_model, list_models, model_entry


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'microisp*'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = list_models(args.pattern)
    width = max((len(n) for n in names), default=4)
    print(f"{'name':<{width}}  {'params':>11}  description")
    for name in names:
        params = count_parameters(create_model(name))
        print(f"{name:<{width}}  {params:>11,}  {model_entry(name).description}")
    return 0
