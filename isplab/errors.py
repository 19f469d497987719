"""User-facing errors: one line that names the file, what is wrong and the fix."""

from __future__ import annotations

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


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 300 characters), or its type name."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else exc.__class__.__name__
