"""``isplab`` command line. Each subcommand lives in its own module exposing ``add_parser(subparsers)``,
which registers the parser and sets ``func(args) -> int``; the CLI is thin and calls one library function.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from isplab.errors import IsplabError

#: Subcommand modules, in the order ``isplab --help`` lists them.
SUBCOMMANDS = [
    "challenge", "data", "models", "train", "eval", "export", "inspect", "import_", "bench", "leaderboard", "search",
    "develop", "compare",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isplab", description="Learned camera ISPs (MAI 2022 challenge).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"isplab.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"isplab.cli.{name}":  # subcommand not written yet
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except IsplabError as exc:
        print(f"isplab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"isplab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
