"""The seeded mutation sample (tools/mutation.py, docs/testing.md): a fixed sample of mutants of the
modules with fast tests must each fail a test. The full per-module runs are a documented command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("mutmut", reason="mutmut is in the dev extra")


def test_seeded_mutant_sample_is_killed(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "mutation.py"), "--work", str(tmp_path), "sample",
                           "--n", "12", "--seed", "0"], capture_output=True, text=True, timeout=900)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0 and "sample of 12" in summary, summary
