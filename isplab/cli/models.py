"""``isplab models``: registered models (parameters, recipe, shipped weights), or their weight cards."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models, or with --pretrained their weight cards")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'microisp*'")
    p.add_argument("--pretrained", action="store_true",
                   help="list the weight cards (MODEL.TAG): shipped weights and importable peer weights, with "
                        "source, licence, whether the file is here, and the test score")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.pretrained:
        return cards(args.pattern)
    import torch

    from isplab.models import count_parameters, create_model, list_models, model_entry

    names = list_models(args.pattern)
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


def cards(pattern: str) -> int:
    """One line per weight card matching ``pattern`` (on the model name or ``MODEL.TAG``)."""
    from isplab.models.cards import list_cards

    found = list_cards(pattern if "." in pattern else f"{pattern}.*")
    width = max((len(c.name) for c in found), default=4)
    print(f"{'weights (pretrained:MODEL.TAG)':<{width}}  {'kind':<10}  {'here':<4}  {'test PSNR':>9}  source; licence")
    for card in found:
        psnr = card.metadata().get("scores", {}).get("test", {}).get("psnr")
        here = "yes" if card.available() else "no"
        default = " (default)" if card.default else ""
        print(f"{card.name:<{width}}  {card.kind:<10}  {here:<4}  {'-' if psnr is None else f'{psnr:.2f}':>9}  "
              f"{card.source}; {card.licence}{default}")
    return 0
