"""Where candidates are evaluated: in this process, one after the other, or as Ray tasks on a cluster.

Ray is optional (``pip install 'isplab[ray]'``) and imported only by :class:`RayExecutor`. Scheduling is
Ray's: every candidate is one ``ray.remote`` task reserving ``num_cpus``; results are collected with
``ray.wait`` as they finish, so each is saved (and the search resumable) as soon as it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from isplab.errors import IsplabError

OnResult = Callable[[int, Any], None]


class LocalExecutor:
    """Runs the calls in order in this process."""

    remote = False  #: results must be self-contained (no shared filesystem)

    def map(self, fn: Callable[..., Any], calls: list[dict[str, Any]], on_result: OnResult) -> None:
        for i, kwargs in enumerate(calls):
            on_result(i, fn(**kwargs))


class RayExecutor:
    """Runs each call as a Ray task on the cluster at ``address`` (``ray.init(address=...)``)."""

    remote = True

    def __init__(self, address: str, num_cpus: float = 1.0):
        try:
            import ray
        except ImportError:
            raise IsplabError("--ray needs Ray: pip install 'isplab[ray]' (or run without --ray on one "
                              "machine)") from None
        self.ray, self.num_cpus = ray, num_cpus
        ray.init(address=address, ignore_reinit_error=True)

    def map(self, fn: Callable[..., Any], calls: list[dict[str, Any]], on_result: OnResult) -> None:
        task = self.ray.remote(num_cpus=self.num_cpus)(fn)
        pending = {task.remote(**kwargs): i for i, kwargs in enumerate(calls)}
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in done:
                on_result(pending.pop(ref), self.ray.get(ref))
