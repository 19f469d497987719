"""The generic registry (isplab.registry) that models, losses, objectives and mappers share."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from isplab.errors import IsplabError
from isplab.registry import Entry, Registry


@dataclass(frozen=True)
class _Sized(Entry):
    size: int = 1


def test_register_describes_from_docstring_and_lists_sorted() -> None:
    reg: Registry[Entry] = Registry("widget", hint="see `isplab widgets`")

    @reg.register("b")
    def make_b() -> int:
        """Makes b.

        More text.
        """
        return 2

    reg.add("a", lambda: 1, "makes a")
    assert reg.names() == ["a", "b"] and reg.names("b*") == ["b"]
    assert reg.get("b").description == "Makes b." and reg.get("b").factory() == 2
    assert "a" in reg and len(reg) == 2 and [e.name for e in reg] == ["a", "b"]


def test_unknown_name_is_one_line_error_listing_known() -> None:
    reg: Registry[Entry] = Registry("widget", hint="see `isplab widgets`")
    reg.add("a", int)
    with pytest.raises(IsplabError, match=r"unknown widget 'z'. Known: a \(see `isplab widgets`\)"):
        reg.get("z")


def test_typed_metadata_and_several_names() -> None:
    reg: Registry[_Sized] = Registry("sized", _Sized)

    @reg.register("x", "x.5", size=8)
    def make() -> None:
        """Two names, one factory."""

    assert reg.get("x.5").size == 8 and reg.get("x").factory is make
    with pytest.raises(TypeError):  # a misspelt metadata key fails at registration, not silently
        reg.add("y", make, sise=3)
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("x", make)
    with pytest.raises(ValueError, match="explicit name"):
        reg.register()
