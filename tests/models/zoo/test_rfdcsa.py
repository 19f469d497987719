"""RFD-CSA (isplab.models.zoo.rfdcsa). Shapes, gradients, fusion, export: ``test_all_models.py``."""

from __future__ import annotations

import pytest

from isplab.models import count_parameters, create_model
from isplab.models.reparam import reparameterize


@pytest.mark.parametrize(("name", "report_mb"), [("rfdcsa", 0.060), ("rfdcsa_large", 1.2)])
def test_size_matches_report(name: str, report_mb: float, size_mb) -> None:
    assert size_mb(name, reparam=True) == pytest.approx(report_mb, rel=0.25)


def test_reparameterize_shrinks_model() -> None:
    model = create_model("rfdcsa")
    n_train = count_parameters(model)
    assert count_parameters(reparameterize(model)) < n_train
