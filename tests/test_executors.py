"""Executors: failures reported per call; Ray tasks on a real local runtime run the driver's isplab."""

import hashlib
import sys
from pathlib import Path

import pytest

from isplab.errors import IsplabError
from isplab.executors import LocalExecutor, RayExecutor, error_text


def isplab_fingerprint() -> str:
    """SHA-256 of the sources of the isplab package this process imports."""
    import isplab

    root, digest = Path(isplab.__file__).parent, hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def square_or_fail(x: int) -> int:
    if x < 0:
        raise IsplabError(f"negative: {x}")
    return x * x


def collect(executor, calls):
    results, errors = {}, {}
    executor.map(square_or_fail, calls, results.__setitem__, lambda i, exc: errors.__setitem__(i, error_text(exc)))
    return results, errors


def test_local_executor_reports_a_failure_and_runs_the_rest() -> None:
    assert collect(LocalExecutor(), [{"x": 2}, {"x": -1}, {"x": 3}]) == ({0: 4, 2: 9}, {1: "IsplabError: negative: -1"})
    with pytest.raises(IsplabError):
        LocalExecutor().map(square_or_fail, [{"x": -1}], lambda i, r: None)


def test_ray_executor_runs_tasks_with_the_drivers_isplab(ray_runtime) -> None:
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need not import this test module
    try:
        with RayExecutor("local") as executor:  # joins the fixture's runtime (it stays up after the block)
            results, errors = collect(executor, [{"x": 2}, {"x": -1}, {"x": 3}])
            assert results == {0: 4, 2: 9} and errors == {1: "IsplabError: negative: -1"}  # cause unwrapped
            prints = {}
            executor.map(isplab_fingerprint, [{}], prints.__setitem__)
        assert prints[0] == isplab_fingerprint()
        assert ray_runtime.is_initialized()
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def test_unreachable_cluster_is_an_actionable_error(monkeypatch) -> None:
    import ray

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: (_ for _ in ()).throw(ConnectionError("no cluster found")))
    with pytest.raises(IsplabError, match=r"--ray auto: cannot connect.*ray start --head"):
        RayExecutor("auto")
