"""Pareto front of (PSNR up, latency down) points."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pareto_front(psnr: Sequence[float], ms: Sequence[float]) -> list[int]:
    """Indices of the non-dominated points, fastest first.

    A point is dominated when another is at least as fast and at least as accurate, and strictly better in
    one. Of exact duplicates only the first is kept.
    """
    psnr_a, ms_a = np.asarray(psnr, float), np.asarray(ms, float)
    if psnr_a.shape != ms_a.shape:
        raise ValueError(f"psnr and ms differ in length: {psnr_a.shape} vs {ms_a.shape}")
    order = np.lexsort((-psnr_a, ms_a))  # by ms, then best PSNR first within equal ms
    front, best = [], -np.inf
    for i in order:  # one pass over the sorted points: a point survives if it beats every faster one
        if psnr_a[i] > best:
            front.append(int(i))
            best = psnr_a[i]
    return front
