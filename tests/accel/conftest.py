"""The accelerator toolchains for the tests: set up once per session under ``CI=true`` (a toolchain that
cannot be set up fails the run), skipped elsewhere when ``isplab accel setup`` has not run."""

from __future__ import annotations

import os

import pytest

from isplab.accel.toolchains import TARGETS, Toolchains, setup_toolchains


@pytest.fixture(scope="session")
def toolchains() -> Toolchains:
    chains = Toolchains.load()
    missing = [t for t in TARGETS if chains.missing(t)]
    if missing and os.environ.get("CI", "").lower() == "true":
        chains = setup_toolchains(TARGETS)  # CI installs them from the project's own code; errors fail
    elif missing:
        pytest.skip(f"{chains.missing(missing[0])} (under CI=true the tests set it up)")
    assert all(chains.missing(t) is None for t in TARGETS)
    return chains
