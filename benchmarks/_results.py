"""Where every benchmark writes: ``benchmarks/results/<name>.{json,md}``, atomically (an interrupted run never
leaves a half-written result beside the old one)."""

from __future__ import annotations

import json
from pathlib import Path

from isplab.atomic import write_text_atomic

RESULTS = Path(__file__).resolve().parent / "results"


def write_results(name: str, result: object, markdown: str | list[str], echo: bool = True) -> tuple[Path, Path]:
    """Write ``result`` as ``<name>.json`` and ``markdown`` (text or lines) as ``<name>.md``; print the markdown."""
    text = markdown if isinstance(markdown, str) else "\n".join(markdown) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    paths = (write_text_atomic(RESULTS / f"{name}.json", json.dumps(result, indent=2, allow_nan=False) + "\n"),
             write_text_atomic(RESULTS / f"{name}.md", text))
    if echo:
        print(text, end="")
    return paths
