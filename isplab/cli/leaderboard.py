"""``isplab leaderboard``: model results as ``leaderboard.md`` and a self-contained ``leaderboard.html``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leaderboard", help="render results as markdown + HTML next to the report's Table 1",
                       description="Rank model results (JSON from `isplab challenge`) by Final Score "
                                   "and write leaderboard.md and a self-contained leaderboard.html.")
    p.add_argument("results", nargs="+", type=Path, metavar="RESULTS",
                   help="result JSON files, or folders holding them")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR",
                   help="where to write leaderboard.md/.html (default: current folder)")
    p.add_argument("--reference", default=None, metavar="MODEL",
                   help="model that relative scores are divided by (default: microisp, if present)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.challenge.leaderboard import Leaderboard, load_results
    from isplab.paths import check_apart

    results = [f for p in args.results for f in (sorted(p.glob("*.json")) if p.is_dir() else [p])]
    check_apart({"RESULTS": results}, {"--out": [args.out / "leaderboard.md", args.out / "leaderboard.html"]})
    board = Leaderboard(load_results(args.results), reference=args.reference)
    md, page = board.write(args.out)
    print(board.to_markdown(image_base=args.out), end="")
    for warning in board.warnings:
        print(f"isplab leaderboard: warning: {warning}", file=sys.stderr)
    print(f"wrote {md} and {page}", file=sys.stderr)
    return 0
