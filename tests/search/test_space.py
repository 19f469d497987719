"""The ENERZAi search space: sampling and mutation stay in bounds, are seeded, keys are stable."""

import numpy as np
import pytest
import torch

from isplab.models import create_model
from isplab.models.zoo.enerzai import ENERZAI_T1, EnerzaiConfig, LevelConfig
from isplab.search.space import SpaceBounds, config_from_dict, config_key, config_to_dict, in_bounds, mutate, sample

BOUNDS = SpaceBounds(min_levels=2, max_levels=3, widths=(8, 12, 16), max_depth=2, reductions=(4, 8))


def walk(seed: int, n: int = 200) -> list[EnerzaiConfig]:
    rng = np.random.default_rng(seed)
    cfg = sample(rng, BOUNDS)
    out = [cfg]
    for _ in range(n):
        cfg = mutate(cfg, rng, BOUNDS)
        out.append(cfg)
    return out


def test_sample_and_mutation_stay_in_bounds() -> None:
    configs = walk(0)
    assert all(in_bounds(c, BOUNDS) for c in configs)
    assert all(a != b for a, b in zip(configs, configs[1:], strict=False))  # every mutation changes something
    # the walk explores every dimension of the space
    assert {len(c.levels) for c in configs} == {2, 3}
    assert {c.skip for c in configs} == {"concat", "add"} and {c.reduction for c in configs} == {4, 8}
    assert {lv.width for c in configs for lv in c.levels} == {8, 12, 16}
    assert {lv.encoder_depth for c in configs for lv in c.levels} == {1, 2}


def test_search_space_is_deterministic_for_a_seed() -> None:
    assert walk(3, 50) == walk(3, 50)
    assert walk(3, 50) != walk(4, 50)


def test_in_bounds_rejects_points_outside() -> None:
    assert not in_bounds(ENERZAI_T1, BOUNDS)  # width 10 is not a choice here
    wide = EnerzaiConfig((LevelConfig(16), LevelConfig(8)))  # widths shrink going down
    assert not in_bounds(wide, BOUNDS)
    with pytest.raises(ValueError, match="increasing"):
        SpaceBounds(widths=(16, 8))


def test_config_key_is_stable_and_round_trips() -> None:
    assert config_key(ENERZAI_T1) == "0f6a6e126bc47eab"  # SHA-1 based: the same in every process
    assert config_key(config_from_dict(config_to_dict(ENERZAI_T1))) == config_key(ENERZAI_T1)
    other = EnerzaiConfig(ENERZAI_T1.levels, skip="concat")
    assert config_key(other) != config_key(ENERZAI_T1)


def test_registered_enerzai_model_builds_any_point() -> None:
    model = create_model("enerzai", **config_to_dict(ENERZAI_T1))
    reference = create_model("enerzai_t1")
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    assert model(torch.rand(1, 4, 8, 8)).shape == (1, 3, 16, 16)
