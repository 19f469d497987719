from dataclasses import dataclass, field

import pytest

from isplab.config import ConfigError, dump_yaml, from_dict, load_yaml
from isplab.train.config import TrainConfig
from isplab.train.recipes import list_recipes, load_train_config


@dataclass
class Inner:
    a: int = 1
    b: float = 2.0


@dataclass
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)
    items: list[Inner] = field(default_factory=list)
    maybe: str | None = None


def test_nested_and_lists():
    cfg = from_dict(Outer, {"inner": {"a": 3}, "items": [{"b": 1}], "maybe": "y"})
    assert cfg.inner.a == 3 and cfg.items[0].b == 1.0 and isinstance(cfg.items[0].b, float)


def test_unknown_key_is_an_error_naming_the_path():
    with pytest.raises(ConfigError, match=r"config\.inner: unknown key\(s\) c"):
        from_dict(Outer, {"inner": {"c": 1}})


def test_wrong_type_is_an_error():
    with pytest.raises(ConfigError, match="inner.a"):
        from_dict(Outer, {"inner": {"a": "three"}})


def test_yaml_round_trip(tmp_path):
    cfg = load_train_config("microisp")
    path = tmp_path / "c.yml"
    path.write_text(dump_yaml(cfg))
    assert load_yaml(TrainConfig, path) == cfg


def test_every_recipe_loads_and_names_a_registered_model():
    from isplab import list_models

    assert list_recipes()
    for name in list_recipes():
        cfg = load_train_config(name)
        assert cfg.model in list_models(), name


def test_steps_rescale_keeps_stage_order():
    cfg = load_train_config("microisp").with_total_steps(30)
    assert cfg.total_steps == 30 and [s.name for s in cfg.stages] == ["l1", "l1+ssim"]
    assert cfg.stage_at(0).name == "l1" and cfg.stage_at(29).name == "l1+ssim"


def test_bad_yaml_file_named(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="bad.yml"):
        load_yaml(TrainConfig, bad)
