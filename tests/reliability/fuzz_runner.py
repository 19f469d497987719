"""Runs fuzz cases through the isplab CLI in one process: ``python fuzz_runner.py CASES.json LOG.jsonl FIRST``.

Each case (``{"argv": [...], "out": folder or null}``) is preceded in LOG by a ``start`` line and followed by
an ``end`` line with its exit status, what it printed to ``sys.stderr`` and, for a developed picture, whether
the file decodes. A case that kills the process (a signal) thus leaves a ``start`` without an ``end``; the
caller (``test_fuzz.py``) records it and starts a new runner at the next case.
"""

from __future__ import annotations

import io
import json
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


def _outputs_decode(folder: str | None) -> bool:
    """Every picture written into ``folder`` decodes (a finite picture: the output checks passed)."""
    if folder is None:
        return True
    from PIL import Image

    for path in Path(folder).glob("*.png"):
        with Image.open(path) as image:
            image.load()
    return True


def run(cases: list[dict], log: Path, first: int) -> None:
    from isplab.cli import main

    with open(log, "a") as out:
        for i in range(first, len(cases)):
            out.write(json.dumps({"case": i, "event": "start"}) + "\n")
            out.flush()
            err = io.StringIO()
            try:
                with redirect_stderr(err), redirect_stdout(io.StringIO()):
                    code = main(cases[i]["argv"])
                outcome = "exit"
            except SystemExit as exc:
                code, outcome = exc.code, "exit"
            except BaseException:  # what the CLI let through: a traceback
                code, outcome = None, "traceback"
                err.write(traceback.format_exc())
            decodes = None
            if outcome == "exit" and code == 0:
                try:
                    decodes = _outputs_decode(cases[i].get("out"))
                except Exception as exc:  # noqa: BLE001 -- an undecodable output is the finding
                    decodes = f"{type(exc).__name__}: {exc}"
            out.write(json.dumps({"case": i, "event": "end", "outcome": outcome, "code": code,
                                  "stderr": err.getvalue(), "decodes": decodes}) + "\n")
            out.flush()


if __name__ == "__main__":
    run(json.loads(Path(sys.argv[1]).read_text()), Path(sys.argv[2]), int(sys.argv[3]))
