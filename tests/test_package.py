"""The package face (isplab/__init__.py): lazy, so ``isplab --help`` and LiteRT-only paths skip torch."""

from __future__ import annotations

import subprocess
import sys

import pytest

import isplab


def test_import_isplab_loads_no_torch():
    code = ("import sys, isplab, isplab.cli, isplab.runtime.litert, isplab.develop.runners, isplab.develop.pipeline; "
            "print('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_lazy_names_resolve():
    assert callable(isplab.create_model) and "microisp" in isplab.list_models()
    assert isplab.__version__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        isplab.nope  # noqa: B018


def test_a_subcommand_builds_only_its_own_parser():
    from isplab.cli import _command, build_parser

    assert _command(["develop", "x.dng"]) == "develop" and _command(["import", "microisp"]) == "import_"
    assert _command(["--help"]) is None and _command(["nope"]) is None
    sub = next(a for a in build_parser("bench")._actions if a.dest == "command")
    assert list(sub.choices) == ["bench"]
    code = ("import sys\nfrom isplab.cli import main\ntry:\n    main(['develop', '--help'])\nexcept SystemExit:\n"
            "    pass\nprint('torch' in sys.modules, 'numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


def test_top_level_help_and_every_command_help_load_no_torch():
    from isplab.cli import build_parser

    commands = [a for a in build_parser()._actions if a.dest == "command"][0].choices
    code = ("import sys\nfrom isplab.cli import main\n"
            "for argv in [['--help']] + [[c, '--help'] for c in sys.argv[1:]]:\n"
            "    try:\n        main(argv)\n    except SystemExit:\n        pass\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, *commands], capture_output=True, text=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_test_files_have_unique_basenames():
    """pytest's default import mode needs them: two ``test_x.py`` in different folders stop collection."""
    from collections import Counter
    from pathlib import Path

    names = Counter(p.name for p in Path(__file__).parent.rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
