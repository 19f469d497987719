"""``isplab search``: latency-aware evolutionary architecture search (ENERZAi space)."""

from __future__ import annotations

import argparse
from pathlib import Path

from isplab.config import load_yaml

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "search"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="latency-aware architecture search (resumable; Ray optional)")
    p.add_argument("--config", required=True,
                   help="search YAML, or a name from configs/search/ (enerzai_tiny, enerzai_full)")
    p.add_argument("--out", required=True, help="output folder (candidates.json, pareto.json, pareto.svg); "
                                                "re-run with the same --out to resume")
    p.add_argument("--ray", metavar="ADDRESS", help="evaluate candidates as Ray tasks on this cluster "
                                                    "(e.g. auto or ray://head:10001); needs isplab[ray]")
    p.set_defaults(func=run)


def resolve_config_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yml", ".yaml") or path.exists():
        return path
    shipped = CONFIG_DIR / f"{name}.yml"
    if not shipped.is_file():
        from isplab.errors import IsplabError

        names = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yml")))
        raise IsplabError(f"--config {name}: no such file and no shipped search config of that name. "
                          f"Pass a YAML path or one of: {names}")
    return shipped


def run(args: argparse.Namespace) -> int:
    from isplab.search import run_search
    from isplab.search.config import SearchConfig

    cfg = load_yaml(SearchConfig, resolve_config_path(args.config))
    result = run_search(cfg, args.out, ray_address=args.ray)
    b = result.best
    print(f"{len(result.candidates)} candidates, {len(result.front)} on the Pareto front -> {result.files['json']}")
    print(f"best fitness {b.fitness:.3f}: {b.psnr:.2f} dB, {b.ms:.3g} ms ({b.params:,} params), key {b.key}")
    return 0
