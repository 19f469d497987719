"""Shared test fixtures.

``shared_dir``: the read-only ``../shared`` tree beside the checkout (peers' models, real raw frames).
Tests that need it are skipped when it is absent, except under ``CI=true``, where a missing tree is a
failure: CI must run the parity tests, not silently skip them.

``read_only_dir``: a folder nothing can be written into, also when the tests run as root. ``raising``: a
stand-in for a heavy function, to prove that an error came before any work.

``ray_runtime``: one real Ray runtime (2 CPUs, on 127.0.0.1, started in this process the way ``--ray
local`` starts it) shared by every Ray test of the session: Ray takes seconds to start.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


def require_shared(*parts: str) -> Path:
    """``SHARED_DIR / parts``; skip the calling test if it is missing (fail under ``CI=true``)."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        msg = f"shared test data not found: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{msg} (CI=true: shared data is required)")
        pytest.skip(msg)
    return path


@pytest.fixture
def shared_dir() -> Path:
    """The ``../shared`` directory (skips, or fails under ``CI=true``, when absent)."""
    return require_shared()


@pytest.fixture
def shared_file():
    """Factory ``shared_file("peers", "x.tflite") -> Path`` with the same skip/fail rule per file."""
    return require_shared


@pytest.fixture
def read_only_dir(tmp_path, monkeypatch) -> Path:
    """A mode-0555 folder. Modes do not bind root, so as root ``os.access`` is made to report it unwritable."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: access(p, mode) and not Path(p).is_relative_to(folder))
    yield folder
    folder.chmod(0o755)


def _raising(exc: BaseException):
    def call(*args, **kwargs):
        raise exc

    return call


@pytest.fixture
def raising():
    """``raising(exc)``: a function that raises ``exc`` when called; monkeypatch a heavy function (conversion,
    inference, timing) with ``raising(AssertionError(...))`` to prove that nothing ran before an error."""
    return _raising


@pytest.fixture(scope="session")
def ray_runtime():
    """A real local Ray runtime; ``--ray`` commands run in this process join it (ray.is_initialized())."""
    from isplab.executors import connect_ray

    ray, started = connect_ray("local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                               object_store_memory=100 * 2**20)  # small: CI containers have little /dev/shm
    assert started, "another Ray connection was open before the tests"
    yield ray
    ray.shutdown()
