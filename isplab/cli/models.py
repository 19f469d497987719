"""``isplab models``: list registered models with parameter counts, recipes and shipped weights."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'microisp*'")
    p.add_argument("--pretrained", action="store_true", help="only models whose weights ship with isplab")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from isplab.models import count_parameters, create_model, list_models, model_entry

    names = list_models(args.pattern, pretrained=args.pretrained)
    shipped = set(list_models(args.pattern, pretrained=True))
    width = max((len(n) for n in names), default=4)
    recipe_width = max((len(model_entry(n).recipe) for n in names), default=6)
    print(f"{'name':<{width}}  {'params':>11}  {'recipe':<{recipe_width}}  pretrained  description")
    for name in names:
        entry = model_entry(name)
        with torch.device("meta"):  # count parameters without allocating (some models hold 50M)
            params = count_parameters(create_model(name))
        weights = "yes" if name in shipped else "-"
        print(f"{name:<{width}}  {params:>11,}  {entry.recipe:<{recipe_width}}  {weights:<10}  {entry.description}")
    return 0
