"""Final Score against the report's Table 1, and relative scores."""

from __future__ import annotations

import math

import pytest

from isplab.challenge.leaderboard import ModelResult
from isplab.challenge.score import C, final_score, relative_scores
from isplab.challenge.table1 import TABLE1, find_row
from isplab.errors import IsplabError

SCORED = [row for row in TABLE1 if row.final_score is not None]


def _half_ulp(text: str) -> float:
    """Half a unit in the last printed digit: the rounding error of a number printed as ``text``."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals


def test_c_is_two_to_the_forty():
    assert C == 2.0**40
    # Solving for C on the rows printed with 3-4 significant digits pins log2(C) to 40 +- 0.005.
    for team in ("MiAlgo", "Multimedia", "MicroISP 1.0", "MicroISP 0.5", "PyNET-V2"):
        row = find_row(team)
        log2_c = 2 * row.psnr - math.log2(row.final_score * row.gpu_runtime_ms)
        assert log2_c == pytest.approx(40.0, abs=0.005), team


@pytest.mark.parametrize("row", SCORED, ids=[f"{r.team}-{r.gpu_runtime_text}" for r in SCORED])
def test_final_score_reproduces_table1(row):
    """Recompute every scored row from its PSNR and GPU runtime.

    Tolerance = the rounding of the printed inputs and output, in log space: PSNR to its last digit
    (2 ln2 * 0.005 dB = 0.7 % for two decimals), runtime to its last digit (0.05 / 6.8 ms = 0.7 % at
    worst) and the score to its last digit (0.005 / 9.25 = 0.05 % ... 0.05 / 0.6 = 8 %).
    """
    predicted = final_score(row.psnr, row.gpu_runtime_ms)
    tol = (2 * math.log(2) * _half_ulp(row.psnr_text) + _half_ulp(row.gpu_runtime_text) / row.gpu_runtime_ms
           + _half_ulp(row.final_score_text) / row.final_score)
    assert abs(math.log(predicted / row.final_score)) <= tol


def test_two_rows_explicitly():
    assert final_score(23.33, 6.8) == pytest.approx(14.87, rel=0.015)  # MiAlgo, track-1 winner
    assert final_score(23.87, 23.1) == pytest.approx(9.25, rel=0.015)  # MicroISP 1.0 baseline


def test_score_doubles_per_half_db_and_halved_runtime():
    assert final_score(24.0, 100) / final_score(23.5, 100) == pytest.approx(2.0)
    assert final_score(24.0, 50) / final_score(24.0, 100) == pytest.approx(2.0)
    assert final_score(24.0, 100, c=1.0) == pytest.approx(2.0**48 / 100)


@pytest.mark.parametrize("runtime", [0, -1.0, float("nan"), float("inf")])
def test_bad_runtime(runtime):
    with pytest.raises(IsplabError, match="runtime"):
        final_score(23.0, runtime)


def test_relative_scores_cancel_c():
    rows = [{"model": "microisp", "psnr": 23.87, "runtime_ms": 400.0},
            {"model": "fast", "psnr": 23.37, "runtime_ms": 100.0},
            {"model": "unscored", "psnr": None, "runtime_ms": 50.0}]
    rel = relative_scores(rows)
    assert rel["microisp"] == 1.0
    assert rel["fast"] == pytest.approx(2 ** (2 * -0.5) * 400 / 100)  # 0.5 dB worse, 4x faster -> 2x
    assert rel["unscored"] is None
    # Objects with cpu_runtime_ms (ModelResult) work too.
    objs = [ModelResult("a", psnr=23.0, cpu_runtime_ms=10.0), ModelResult("b", psnr=23.0, cpu_runtime_ms=20)]
    assert relative_scores(objs, reference="a") == {"a": 1.0, "b": pytest.approx(0.5)}


def test_relative_scores_reference_errors():
    with pytest.raises(IsplabError, match="'microisp' is not among"):
        relative_scores([{"model": "x", "psnr": 23.0, "runtime_ms": 1.0}])
    with pytest.raises(IsplabError, match="no PSNR or runtime"):
        relative_scores([{"model": "microisp", "psnr": None, "runtime_ms": 1.0}])
