"""Search outputs: ``pareto.json`` (the front and every candidate) and ``pareto.svg`` (PSNR vs ms scatter).

matplotlib is not a dependency of isplab, so the plot is a small self-contained SVG written here.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from isplab.atomic import write_text_atomic
from isplab.search.candidate import Candidate
from isplab.search.pareto import pareto_front


def front_of(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates on the PSNR-vs-latency Pareto front, fastest first."""
    return [candidates[i] for i in pareto_front([c.psnr for c in candidates], [c.ms for c in candidates])]


def write_report(out: str | Path, candidates: list[Candidate], meta: dict[str, Any]) -> dict[str, Path]:
    """Write ``pareto.json`` and ``pareto.svg`` into ``out``; returns their paths."""
    out = Path(out)
    front = front_of(candidates)
    best = max(candidates, key=lambda c: c.fitness if c.fitness is not None else -np.inf)
    data = {**meta, "best": best.to_dict(), "front": [c.to_dict() for c in front],
            "candidates": [c.to_dict() for c in candidates]}
    paths = {"json": out / "pareto.json", "svg": out / "pareto.svg"}
    write_text_atomic(paths["json"], json.dumps(data, indent=1))
    write_text_atomic(paths["svg"], scatter_svg(candidates, front, meta.get("title", "ENERZAi search")))
    return paths


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    return np.linspace(lo, hi, n)


def scatter_svg(candidates: list[Candidate], front: list[Candidate], title: str, width: int = 640,
                height: int = 420) -> str:
    """PSNR (y) against latency in ms (x, log scale): all candidates grey, the front red and joined."""
    left, right, top, bottom = 70, 20, 40, 55
    ms = np.log10([c.ms for c in candidates])
    ps = np.array([c.psnr for c in candidates])
    x_lo, x_hi = ms.min() - 0.05, ms.max() + 0.05
    y_pad = max(0.1, 0.05 * (ps.max() - ps.min()))
    y_lo, y_hi = ps.min() - y_pad, ps.max() + y_pad

    def sx(v: float) -> float:
        return left + (v - x_lo) / (x_hi - x_lo) * (width - left - right)

    def sy(v: float) -> float:
        return height - bottom - (v - y_lo) / (y_hi - y_lo) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="black"/>',
             f'<text x="{(left + width - right) / 2}" y="{height - 12}" text-anchor="middle">latency (ms, log)</text>',
             f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 16 {(top + height - bottom) / 2})">val PSNR (dB)</text>']
    for v in _ticks(x_lo, x_hi):
        parts.append(f'<text x="{sx(v):.1f}" y="{height - bottom + 16}" text-anchor="middle">{10 ** v:.3g}</text>')
    for v in _ticks(y_lo, y_hi):
        parts.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    for c, x, y in zip(candidates, ms, ps, strict=True):
        parts.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="#999"><title>{c.key}: '
                     f'{c.psnr:.2f} dB, {c.ms:.3g} ms</title></circle>')
    points = " ".join(f"{sx(np.log10(c.ms)):.1f},{sy(c.psnr):.1f}" for c in front)
    parts.append(f'<polyline points="{points}" fill="none" stroke="#d62728" stroke-width="1.5"/>')
    for c in front:
        parts.append(f'<circle cx="{sx(np.log10(c.ms)):.1f}" cy="{sy(c.psnr):.1f}" r="5" fill="#d62728">'
                     f'<title>front {c.key}: {c.psnr:.2f} dB, {c.ms:.3g} ms</title></circle>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
