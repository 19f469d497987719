"""``isplab`` command line. Each subcommand lives in its own module exposing ``add_parser(subparsers)``,
which registers the parser and sets ``func(args) -> int``; the CLI is thin and calls one library function.
``add_parser`` imports nothing heavy (heavy imports go inside ``run``), so ``isplab --help`` starts fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys

from isplab.cli.args import Parser
from isplab.errors import IsplabError

#: Subcommand modules, in the order ``isplab --help`` lists them.
SUBCOMMANDS = [
    "challenge", "data", "models", "train", "adapt", "eval", "export", "inspect", "import_", "bench", "leaderboard",
    "search", "sweep", "develop", "compare", "calibrate", "profile", "accel",
]


#: Errors of the disk being written (not of isplab or its inputs) -> the fix. Files are written atomically, so
#: what existed before is intact (a temp file the next run removes may remain).
_DISK_ERRORS = {
    errno.ENOSPC: "Free space on that disk, or write the output elsewhere; what existed before is intact",
    errno.EDQUOT: "Free space within your disk quota, or write the output elsewhere; what existed before is intact",
    errno.EFBIG: "The file grew beyond the file-size limit of that disk or process; write it elsewhere",
    errno.EROFS: "That file system is read-only: write the output elsewhere",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or only of ``command`` (a module name of :data:`SUBCOMMANDS`)."""
    parser = Parser(prog="isplab", description="Learned camera ISPs (MAI 2022 challenge).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in [command] if command in SUBCOMMANDS else SUBCOMMANDS:
        importlib.import_module(f"isplab.cli.{name}").add_parser(sub)
    return parser


def _command(argv: list[str]) -> str | None:
    """The subcommand module ``argv`` names (``import`` lives in ``import_``), if any."""
    first = next((a for a in argv if not a.startswith("-")), None)
    name = "import_" if first == "import" else first
    return name if name in SUBCOMMANDS else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # One subcommand's parser is enough to run it: the others' imports are not paid.
    args = build_parser(_command(argv)).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except IsplabError as exc:
        print(f"isplab {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in _DISK_ERRORS:
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"isplab {args.command}: error: {where}{exc.strerror or exc}. {_DISK_ERRORS[exc.errno]}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"isplab {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
