"""``isplab search``: latency-aware evolutionary architecture search (ENERZAi space)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="latency-aware architecture search (resumable; Ray optional)")
    p.add_argument("--config", required=True,
                   help="search YAML, or a name from configs/search/ (enerzai_tiny, enerzai_full)")
    p.add_argument("--out", required=True, help="output folder (candidates.json, pareto.json, pareto.svg); "
                                                "re-run with the same --out to resume")
    p.add_argument("--ray", metavar="ADDRESS", help="evaluate candidates as Ray tasks on this cluster "
                                                    "(e.g. auto or ray://head:10001); needs isplab[ray]")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.paths import check_apart
    from isplab.search import run_search
    from isplab.search.config import SearchConfig

    check_apart({"--config": args.config}, {}, {"--out": args.out})
    result = run_search(SearchConfig.load(args.config), args.out, ray_address=args.ray)
    b = result.best
    print(f"{len(result.candidates)} candidates, {len(result.front)} on the Pareto front -> {result.files['json']}")
    print(f"best fitness {b.fitness:.3f}: {b.psnr:.2f} dB, {b.ms:.3g} ms ({b.params:,} params), key {b.key}")
    return 0
