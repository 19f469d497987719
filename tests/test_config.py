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


def test_numeric_strings_are_numbers():
    """YAML 1.1 reads ``lr: 1e-4`` (no dot) as a string; it must still be the number."""
    cfg = from_dict(TrainConfig, {"optim": {"lr": "1e-4"}, "data": {"batch_size": "4"}})
    assert cfg.optim.lr == pytest.approx(1e-4) and cfg.data.batch_size == 4
    with pytest.raises(ConfigError, match=r"config\.optim\.lr: expected a number, got 'fast'"):
        from_dict(TrainConfig, {"optim": {"lr": "fast"}})
    with pytest.raises(ConfigError, match=r"config\.data\.batch_size: expected a number, got True"):
        from_dict(TrainConfig, {"data": {"batch_size": True}})


@pytest.mark.parametrize(("data", "match"), [
    ({"ckpt_every": 0}, r"config: ckpt_every must be >= 1, got 0"),
    ({"val_every": -1}, "val_every must be >= 1"),
    ({"data": {"batch_size": 0}}, r"config\.data: batch_size must be >= 1, got 0"),
    ({"data": {"batch_size": -2}}, "batch_size must be >= 1"),
    ({"data": {"val_fraction": 1.5}}, r"val_fraction must be in \(0, 1\), got 1.5"),
    ({"data": {"patch": 31}}, "patch must be an even size"),
    ({"optim": {"lr": 0}}, r"config\.optim: lr must be > 0, got 0"),
    ({"optim": {"lr": -1e-3}}, "lr must be > 0"),
    ({"optim": {"betas": [0.9, 1.5]}}, "betas must be two values"),
    ({"stages": []}, "at least one stage"),
    ({"stages": [{"steps": 0}]}, r"config\.stages\[0\]: steps must be >= 1, got 0"),
    ({"stages": [{"steps": 5, "lr": 0}]}, "lr must be > 0"),
    ({"schedule": {"name": "linear"}}, "name must be constant, cosine or step"),
    ({"ema": {"decay": 1.0}}, r"decay must be in \[0, 1\)"),
    ({"data": {"stream": {"recolour": 2}}}, r"config\.data\.stream: recolour is a probability"),
])
def test_every_field_is_range_checked(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(TrainConfig, data)


def test_cli_rejects_bad_numbers_in_one_line(tmp_path, capsys):
    from isplab.cli import main

    for argv, match in ((["--steps", "-3"], "--steps must be >= 1, got -3"), (["--steps", "0"], "--steps must be"),
                        (["--batch-size", "0"], "--batch-size must be >= 1, got 0")):
        assert main(["train", "--model", "mialgo_3conv", "--out", str(tmp_path / "r"), *argv]) == 2
        err = capsys.readouterr().err
        assert match in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    (tmp_path / "bad.yml").write_text("model: mialgo_3conv\nckpt_every: 0\n")
    assert main(["train", "--config", str(tmp_path / "bad.yml"), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "bad.yml: ckpt_every must be >= 1, got 0" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()  # nothing was written


def _laughs(levels: int, key: str = "model") -> str:
    """A YAML "billion laughs": each level an alias list of nine of the level below (~430 bytes at 9)."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join([*lines, f"{key}: *a{levels - 1}"]) + "\n"


@pytest.mark.parametrize("levels", [6, 9])
def test_yaml_alias_bombs_fail_fast_in_one_short_line(tmp_path, levels):
    import time

    path = tmp_path / "laughs.yml"
    path.write_text(_laughs(levels))
    start = time.perf_counter()
    with pytest.raises(ConfigError) as err:
        load_yaml(TrainConfig, path)
    message = str(err.value)
    assert "expands to more than 100,000 values" in message and len(message) < 300 and "\n" not in message
    assert time.perf_counter() - start < 10  # was 30 s and 2.5 GB at 9 levels, a 10 MB error line at 6


def test_shipped_configs_with_aliases_still_load():
    cfg = load_train_config("pynetv2_mobile")  # `losses: &mse_ssim [...]`, reused by later stages
    assert cfg.stages[1].losses == cfg.stages[2].losses


def test_error_messages_quote_values_cut_short():
    with pytest.raises(ConfigError) as err:
        from_dict(TrainConfig, {"model": ["x" * 100_000]})
    assert len(str(err.value)) < 300 and "..." in str(err.value)


def _float_fields(cls, prefix=()):
    """Dotted paths of every float field of a config dataclass tree (tuples of floats included)."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        args = typing.get_args(tp)
        if dataclasses.is_dataclass(tp):
            yield from _float_fields(tp, (*prefix, f.name))
        elif tp is float or float in args or (typing.get_origin(tp) is tuple and float in args):
            yield (*prefix, f.name), typing.get_origin(tp) is tuple


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), ".nan", ".inf"])
def test_non_finite_numbers_are_refused_for_every_float_field(bad):
    import yaml

    from isplab.search.config import SearchConfig

    value = yaml.safe_load(f"x: {bad}")["x"] if isinstance(bad, str) else bad
    fields = [(TrainConfig, path, is_tuple) for path, is_tuple in _float_fields(TrainConfig)]
    fields += [(SearchConfig, path, is_tuple) for path, is_tuple in _float_fields(SearchConfig)
               if path[0] != "train"]
    assert len(fields) >= 15
    for cls, path, is_tuple in fields:
        data: dict = {}
        node = data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = [value, value] if is_tuple else value
        with pytest.raises(ConfigError, match="finite"):
            from_dict(cls, data)
    with pytest.raises(ConfigError, match=r"config\.model_kwargs\.channels: expected a finite number"):
        from_dict(TrainConfig, {"model_kwargs": {"channels": value}})
