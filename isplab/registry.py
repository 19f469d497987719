"""One generic registry: name -> factory, description and typed metadata.

Models, losses, training objectives and TFLite weight mappers each keep one :class:`Registry`. Metadata
is a typed entry class (a frozen dataclass deriving from :class:`Entry`), so a misspelt key fails at
registration instead of becoming a silent default::

    @dataclass(frozen=True)
    class ModelEntry(Entry):
        recipe: str
        input_multiple: int = 1

    MODELS = Registry("model", ModelEntry, hint="see `isplab models`")

    @MODELS.register("smallnet", recipe="smallnet")
    def smallnet() -> nn.Module:
        '''MAI 2021 winner.'''  # the first docstring line is the description

>>> reg = Registry("thing")
>>> reg.add("a", dict, "a dict").description
'a dict'
>>> reg.names()
['a']
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from isplab.errors import IsplabError

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Entry:
    """One registered factory. Subclass (frozen dataclass) to add typed metadata fields."""

    name: str
    factory: Callable[..., Any]
    description: str


E = TypeVar("E", bound=Entry)


def first_doc_line(obj: object) -> str:
    """The first line of ``obj``'s docstring ('' without one)."""
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    return doc[0] if doc else ""


class Registry(Generic[E]):
    """Registered factories of one kind, by explicit name.

    Args:
        kind: what is registered, for messages ("model", "loss").
        entry: the entry class; its extra dataclass fields are the metadata ``register`` accepts.
        hint: appended to the unknown-name error (e.g. "see `isplab models`").
    """

    def __init__(self, kind: str, entry: type[E] = Entry, hint: str = ""):  # type: ignore[assignment]
        self.kind, self._entry_type, self._hint = kind, entry, hint
        self._entries: dict[str, E] = {}

    def add(self, name: str, factory: Callable[..., Any], description: str | None = None, **meta: Any) -> E:
        """Register ``factory`` under ``name`` (description: first docstring line unless given)."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} registered twice")
        text = first_doc_line(factory) if description is None else description
        entry = self._entry_type(name=name, factory=factory, description=text, **meta)
        self._entries[name] = entry
        return entry

    def register(self, *names: str, description: str | None = None, **meta: Any) -> Callable[[F], F]:
        """Decorator form of :meth:`add`; several names share one factory (e.g. two model sizes)."""
        if not names:
            raise ValueError(f"register a {self.kind} under an explicit name")

        def decorator(factory: F) -> F:
            for name in names:
                self.add(name, factory, description, **meta)
            return factory

        return decorator

    def get(self, name: str) -> E:
        """The entry of ``name``; an unknown name is an :class:`IsplabError` listing the known ones."""
        try:
            return self._entries[name]
        except KeyError:
            hint = f" ({self._hint})" if self._hint else ""
            raise IsplabError(f"unknown {self.kind} {name!r}. Known: {', '.join(self.names())}{hint}") from None

    def names(self, pattern: str = "*") -> list[str]:
        """Registered names matching a shell-style ``pattern``, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatch(n, pattern))

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(self._entries[n] for n in self.names())

    def __len__(self) -> int:
        return len(self._entries)
