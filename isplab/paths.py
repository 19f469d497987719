"""Outputs kept apart from inputs: the one check every command that writes makes before any work.

An output may not be one of the command's inputs, contain one (a folder written into holding an input),
sit inside one (a run folder inside the dataset it trains on), or reach one through a symbolic or hard
link; otherwise ``isplab develop shots/ --out shots/`` would replace a raw mosaic by its render, and
``isplab export --weights m.pt --out m.pt`` the checkpoint by a ``.tflite``.

Inputs are the files and folders a command reads (a folder of raw files given to ``develop`` stands for
the files in it); outputs are the files and folders it writes. Inputs that do not exist are skipped (they
fail on their own, with their own message).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from isplab.errors import IsplabError

PathLike = str | Path
#: ``{option or role: path, paths or None}``, e.g. ``{"--weights": "m.pt", "INPUT": ["a.dng", "b.dng"]}``.
Paths = Mapping[str, PathLike | Iterable[PathLike] | None]


def _each(paths: Paths) -> Iterable[tuple[str, Path]]:
    for role, value in paths.items():
        if value is None:
            continue
        for path in [value] if isinstance(value, str | Path) else value:
            if path is not None and str(path):
                yield role, Path(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def overlap(output: PathLike, input_: PathLike) -> str | None:
    """How ``output`` overlaps ``input_`` (``"is"``, ``"is inside"``, ``"contains"``, with ``"(through a
    link)"`` when only the resolved paths meet), or None when they are apart."""
    out, inp = Path(output), Path(input_)
    real_out, real_in = Path(os.path.realpath(out)), Path(os.path.realpath(inp))
    if real_out == real_in or _same_file(out, inp):
        relation = "is"
    elif real_in in real_out.parents:
        relation = "is inside"
    elif real_out in real_in.parents:
        relation = "contains"
    else:
        return None
    plain_out, plain_in = Path(os.path.abspath(out)), Path(os.path.abspath(inp))
    lexical = (plain_out == plain_in if relation == "is" else plain_in in plain_out.parents
               if relation == "is inside" else plain_out in plain_in.parents)
    return relation if lexical else f"{relation} (through a link)"


def check_apart(inputs: Paths, outputs: Paths, folders: Paths | None = None) -> None:
    """Refuse, in one line naming both paths and the option to change, any output file (``outputs``) or output
    folder (``folders``) that overlaps an existing input (see the module docstring). Call it before any work.

    An output file is refused when it is or lies inside an input; an output folder also when it contains one.
    (A file output that is an existing folder is left to the command's own "is a folder" check.)"""
    existing = [(role, path) for role, path in _each(inputs) if os.path.lexists(path)]
    written = [(role, out, False) for role, out in _each(outputs)]
    written += [(role, out, True) for role, out in _each(folders or {})]
    for out_role, out, folder in written:
        for in_role, inp in existing:
            relation = overlap(out, inp)
            if relation is not None and (folder or not relation.startswith("contains")):
                raise IsplabError(f"{out}: the output ({out_role}) {relation} the input {inp} ({in_role}); "
                                  f"writing it would destroy what the command reads. Choose another {out_role}")
