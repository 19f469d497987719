"""Mobile-Smallnet (isplab.models.zoo.mincho). Shapes, gradients, fusion, export: ``test_all_models.py``."""

from __future__ import annotations

import pytest


def test_size_matches_report(size_mb) -> None:
    assert size_mb("mincho_mobile_smallnet", reparam=True) == pytest.approx(0.067, rel=0.25)
