"""Pareto front on hand-made points; the fitness formula and its link to the challenge's Final Score."""

import math

import pytest

from isplab.challenge.score import final_score
from isplab.search.evolution import fitness
from isplab.search.pareto import pareto_front


def test_pareto_front_on_hand_made_points() -> None:
    #         0     1     2     3     4     5     6
    psnr = [20.0, 22.0, 21.0, 24.0, 23.0, 24.0, 19.0]
    ms = [10.0, 20.0, 25.0, 40.0, 40.0, 50.0, 5.0]
    # 2 is dominated by 1 (slower, worse); 4 by 3 (same ms, worse); 5 by 3 (slower, equal PSNR)
    assert pareto_front(psnr, ms) == [6, 0, 1, 3]


def test_pareto_front_edge_cases() -> None:
    assert pareto_front([], []) == []
    assert pareto_front([5.0], [1.0]) == [0]
    assert pareto_front([5.0, 5.0], [1.0, 1.0]) == [0]  # exact duplicates: the first is kept
    with pytest.raises(ValueError, match="length"):
        pareto_front([1.0], [1.0, 2.0])


def test_fitness_formula() -> None:
    assert fitness(30.0, 50.0, 50.0, 0.5) == 30.0  # at the target: no penalty
    assert fitness(30.0, 100.0, 50.0, 0.5) == pytest.approx(29.5)  # 0.5 dB per doubling
    assert fitness(30.0, 25.0, 50.0, 2.0) == pytest.approx(32.0)  # faster than the target: a bonus
    assert fitness(30.0, 1e6, 50.0, 0.0) == 30.0  # weight 0: latency ignored (track 2)
    with pytest.raises(ValueError):
        fitness(30.0, 0.0, 50.0, 0.5)


def test_fitness_with_half_weight_ranks_like_the_final_score() -> None:
    a, b = (30.0, 40.0), (30.8, 90.0)
    ratio = final_score(*a) / final_score(*b)
    assert 2 * (fitness(*a, 50.0, 0.5) - fitness(*b, 50.0, 0.5)) == pytest.approx(math.log2(ratio))
