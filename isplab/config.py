"""Typed configs: dataclasses loaded from YAML or dicts; an unknown key is an error, not a silent default.

Values are checked as they are converted: numbers must be finite (``.nan``/``.inf`` are refused), and
error messages quote values cut short (:func:`isplab.errors.quote`). YAML is read with the safe loader,
and a document whose aliases expand it beyond :data:`MAX_YAML_VALUES` values (a "billion laughs") is
refused before anything walks it.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from isplab.errors import IsplabError, first_line, quote

T = TypeVar("T")

#: Most values (every mapping, list and scalar, counted each time an alias repeats it) a YAML document may
#: expand to; isplab's largest config has a few hundred.
MAX_YAML_VALUES = 100_000


class ConfigError(IsplabError, ValueError):
    """A config file or dict does not match its dataclass (a ``ValueError`` too, so :func:`from_dict` adds
    where it happened)."""


def check(condition: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` (name the field, the value and what is allowed)."""
    if not condition:
        raise ConfigError(message)


def from_dict(cls: type[T], data: dict[str, Any] | None, where: str = "config") -> T:
    """Build dataclass ``cls`` from ``data`` recursively (nested dataclasses, lists of them, tuples).

    Raises :class:`ConfigError` naming the offending key path for unknown keys or wrong types.
    """
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    if not all(isinstance(k, str) for k in data):
        raise ConfigError(f"{where}: keys must be names, got {quote(next(k for k in data if not isinstance(k, str)))}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(fields)}")
    kwargs = {name: _convert(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:  # ConfigError from __post_init__ included: prefix where
        raise ConfigError(f"{where}: {exc}") from None


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: {quote(value)} does not match {tp}")
    if origin is list:
        (item,) = typing.get_args(tp) or (Any,)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {quote(value)}")
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {quote(value)}")
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")
        return tuple(value)
    if origin is dict or tp is Any:
        if origin is dict and not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {quote(value)}")
        _check_finite(value, where)
        return value
    if tp in (int, float) and isinstance(value, str):
        # YAML 1.1 reads ``1e-4`` (no dot) as a string: numeric strings are numbers.
        try:
            value = tp(value) if tp is float else int(value.strip())
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {quote(value)}") from None
    if tp in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{where}: expected a number, got {quote(value)}")
    if tp is float and isinstance(value, int | float):
        _check_finite(value, where)
        return float(value)
    if tp in (int, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {quote(value)}")
    return value


def _check_finite(value: Any, where: str) -> None:
    """Refuse NaN and infinities anywhere in ``value`` (free-form ``kwargs`` mappings and lists included)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: expected a finite number, got {value}. Give a finite value")
    if isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_finite(v, f"{where}[{i}]")


def to_dict(obj: Any) -> Any:
    """A plain (YAML-safe) dict/list form of a config dataclass."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


def safe_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, refused with a ``yaml.YAMLError`` when its aliases expand the document
    beyond :data:`MAX_YAML_VALUES` values (checked without expanding it: the walk stops at the limit)."""
    data = yaml.safe_load(text)
    count, stack = 0, [data]
    while stack:
        value = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES:
            raise yaml.YAMLError(f"the document expands to more than {MAX_YAML_VALUES:,} values through its "
                                 "aliases (*name); write it out with fewer nested aliases")
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return data


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: the problem and where (PyYAML's own message spans several lines)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    if problem and mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return first_line(exc)


def load_yaml(cls: type[T], path: str | Path) -> T:
    """Load dataclass ``cls`` from a YAML file, with errors naming the file."""
    path = Path(path)
    try:
        data = safe_yaml(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found. Check the path (or the name of a shipped config)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({yaml_problem(exc)}). Fix the file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config ({first_line(exc)}). Check the path") from None
    return from_dict(cls, data, where=str(path))


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(to_dict(obj), sort_keys=False)
