"""User-facing errors: one line that names the file, what is wrong and the fix."""

from __future__ import annotations

import reprlib
from pathlib import Path


class IsplabError(Exception):
    """An error the CLI prints as one line (no traceback) before exiting non-zero."""


class DataError(IsplabError):
    """Bad or missing input data."""

    def __init__(self, path: str | Path | None, problem: str, fix: str):
        self.path, self.problem, self.fix = path, problem, fix
        where = f"{path}: " if path is not None else ""
        super().__init__(f"{where}{problem}. {fix}")

    def __reduce__(self) -> tuple:
        # pickled with its own arguments, so it crosses process boundaries (Ray tasks) intact
        return type(self), (self.path, self.problem, self.fix)


#: Longest value an error message quotes (a crafted value must not make a megabyte error line).
QUOTE_LIMIT = 80


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A ``repr`` of ``value`` for an error message: at most ``limit`` characters (``...`` marks a cut); nested
    containers are abbreviated as they are rendered, so a huge value costs no more than a small one."""
    short = reprlib.Repr()
    short.maxstring = short.maxother = short.maxlong = limit
    try:
        text = short.repr(value)
    except ValueError:  # an int beyond Python's digit limit for str()
        text = f"<{type(value).__name__} too large to print>"
    return text if len(text) <= limit else f"{text[:limit - 3]}..."


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 300 characters), or its type name."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else exc.__class__.__name__
