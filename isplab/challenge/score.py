"""The MAI 2022 challenge's Final Score (report section 2.5, track 1).

    Final Score = 2 ** (2 * PSNR) / (C * runtime)

with PSNR in dB, runtime in milliseconds and ``C`` "a constant normalization factor" whose value the
report does not print. Solving the formula for ``C`` on every scored row of Table 1 (GPU runtime column)
gives ``log2(C)`` = 40.000 +- 0.005 on the rows whose score has 3-4 significant digits (the others agree
within the rounding of their score), so ``C = 2 ** 40`` (about 1.0995e12): see ``tests/challenge/test_score.py``.

Device caveat: the report's runtimes are Snapdragon 8 Gen 1 *GPU* milliseconds (TFLite GPU delegate,
Full HD 1920x1088 output); isplab measures *CPU* milliseconds with LiteRT XNNPACK on whatever machine it
runs on (much slower: Table 1's own phone-CPU column is 20-200x its GPU one), so absolute scores are
not comparable with Table 1. The ratio of two
models' scores measured on the same machine in the same run is: ``C`` cancels and it equals
``2 ** (2 * (PSNR_a - PSNR_b)) * runtime_b / runtime_a`` -- hence :func:`relative_scores`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from isplab.errors import IsplabError

#: Normalisation constant of the Final Score: ``2 ** 40``, recovered from Table 1 (not printed in the report).
C = 2.0**40


def final_score(psnr: float, runtime_ms: float, c: float = C) -> float:
    """``2 ** (2 * psnr) / (c * runtime_ms)``; each +0.5 dB doubles the score, as does halving runtime."""
    if not (runtime_ms > 0 and math.isfinite(runtime_ms)):
        raise IsplabError(f"runtime must be a positive number of milliseconds, got {runtime_ms!r}")
    if not math.isfinite(psnr):
        raise IsplabError(f"PSNR must be a finite number of dB, got {psnr!r}")
    return 2.0 ** (2.0 * psnr) / (c * runtime_ms)


def _get(row: Any, key: str) -> Any:
    return row.get(key) if isinstance(row, Mapping) else getattr(row, key, None)


def _runtime(row: Any) -> Any:
    for key in ("runtime_ms", "cpu_runtime_ms"):
        value = _get(row, key)
        if value is not None:
            return value
    return None


def relative_scores(rows: Iterable[Any], reference: str = "microisp") -> dict[str, float | None]:
    """Each model's Final Score divided by the reference model's (1.0 for the reference itself).

    ``rows`` are mappings or objects with ``model``, ``psnr`` and ``runtime_ms`` (or ``cpu_runtime_ms``,
    as in :class:`isplab.challenge.leaderboard.ModelResult`), all measured in the same run on the same machine.
    Rows lacking PSNR or runtime get None. Raises ``IsplabError`` if the reference is missing or has no
    score.
    """
    rows = list(rows)
    scores: dict[str, float | None] = {}
    for row in rows:
        psnr, runtime = _get(row, "psnr"), _runtime(row)
        missing = psnr is None or runtime is None
        scores[str(_get(row, "model"))] = None if missing else final_score(psnr, runtime)
    if reference not in scores:
        raise IsplabError(f"reference model {reference!r} is not among the results ({', '.join(scores)}); "
                          "add its result or pick another with --reference")
    ref = scores[reference]
    if ref is None:
        raise IsplabError(f"reference model {reference!r} has no PSNR or runtime, so no score to compare "
                          "with; pick another with --reference")
    return {name: None if s is None else s / ref for name, s in scores.items()}
