"""ENERZAi (isplab.models.zoo.enerzai): its search space. Shapes, gradients, export: ``test_all_models.py``."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from isplab.models import count_parameters, create_model
from isplab.models.zoo.enerzai import ENERZAI_T1, EnerzaiConfig, EnerzaiNet, LevelConfig


@pytest.mark.parametrize(("name", "report_mb"), [("enerzai_t1", 0.077), ("enerzai_t2", 4.5)])
def test_size_matches_report(name: str, report_mb: float, size_mb) -> None:
    assert size_mb(name, reparam=True) == pytest.approx(report_mb, rel=0.25)


def test_enerzai_space_is_mutable_by_replace() -> None:
    wider = dataclasses.replace(ENERZAI_T1, levels=(*ENERZAI_T1.levels, LevelConfig(80, 2, 1, True)))
    concat = dataclasses.replace(ENERZAI_T1, skip="concat")
    n_t1 = count_parameters(EnerzaiNet(ENERZAI_T1))
    assert count_parameters(EnerzaiNet(wider)) > n_t1
    assert count_parameters(EnerzaiNet(concat)) > n_t1
    assert EnerzaiNet(wider)(torch.rand(1, 4, 16, 24)).shape == (1, 3, 32, 48)
    assert hash(ENERZAI_T1) == hash(dataclasses.replace(ENERZAI_T1))  # frozen: usable as a cache key


def test_enerzai_rejects_bad_config_and_input() -> None:
    with pytest.raises(ValueError):
        EnerzaiConfig(levels=(LevelConfig(0),))
    with pytest.raises(ValueError):
        EnerzaiConfig(levels=(LevelConfig(8),), skip="sum")
    with pytest.raises(ValueError, match="divisible by 4"):  # the registry entry's constraint
        create_model("enerzai_t1")(torch.rand(1, 4, 16, 18))
