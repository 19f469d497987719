"""FGARepNet (isplab.models.zoo.fgarepnet). Shapes, gradients, fusion, export: ``test_all_models.py``."""

from __future__ import annotations

import pytest

from isplab.models import count_parameters, create_model
from isplab.models.reparam import reparameterize


def test_size_matches_report(size_mb) -> None:
    assert size_mb("fgarepnet", reparam=True) == pytest.approx(0.029, rel=0.25)


def test_reparameterize_shrinks_model() -> None:
    model = create_model("fgarepnet")
    n_train = count_parameters(model)
    assert count_parameters(reparameterize(model)) < n_train
