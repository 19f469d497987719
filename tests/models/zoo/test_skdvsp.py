"""IFSNet of team SKD-VSP (isplab.models.zoo.skdvsp). Shapes, gradients, export: ``test_all_models.py``."""

from __future__ import annotations

import pytest


def test_default_size_matches_report(size_mb) -> None:
    assert size_mb("ifsnet") == pytest.approx(78.9, rel=0.25)
