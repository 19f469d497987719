"""Where independent jobs run: in this process, one after the other, or as Ray tasks on a cluster.

Used by ``isplab search`` (one candidate per task) and ``isplab sweep`` (one training run per task).
Ray is optional (``pip install 'isplab[ray]'``) and imported only by :class:`RayExecutor`. Scheduling is
Ray's: every call is one ``ray.remote`` task reserving ``num_cpus`` (and ``num_gpus``); results are
collected with ``ray.wait`` as they finish, so each can be saved (and the job resumed) as soon as it exists.

Ray addresses (``--ray ADDRESS``), as :func:`ray.init` reads them:

* ``local``: start a Ray runtime inside this process (all cores of this machine; ends with it), closed to
  the network: every Ray server binds to 127.0.0.1 and requires a fresh random token (:func:`connect_ray`);
* ``auto``: join the cluster already running on this machine (``ray start --head``, or ``RAY_ADDRESS``);
* ``HOST:6379``: join the cluster whose head is ``HOST`` (this process becomes a node's driver);
* ``ray://HOST:10001``: Ray Client, for a driver outside the cluster.

A process that is already connected to Ray (a notebook, a test fixture) keeps its connection.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from isplab.errors import IsplabError

OnResult = Callable[[int, Any], None]
OnError = Callable[[int, BaseException], None]


def error_text(exc: BaseException) -> str:
    """``Type: message`` of a failed call; a Ray task's error is unwrapped to the exception it raised."""
    cause = getattr(exc, "cause", None)
    exc = cause if isinstance(cause, BaseException) else exc
    return f"{type(exc).__name__}: {exc}"


def _deliver(i: int, get: Callable[[], Any], on_result: OnResult, on_error: OnError | None) -> None:
    """``on_result(i, get())``; a failure goes to ``on_error`` when given, else it propagates."""
    try:
        result = get()
    except Exception as exc:
        if on_error is None:
            raise
        on_error(i, exc)
        return
    on_result(i, result)


class LocalExecutor:
    """Runs the calls in order in this process."""

    remote = False  #: results must be self-contained (no shared filesystem)

    def map(self, fn: Callable[..., Any], calls: list[dict[str, Any]], on_result: OnResult,
            on_error: OnError | None = None) -> None:
        """``on_result(i, fn(**calls[i]))`` for each call; with ``on_error`` a failing call is reported to it
        and the others still run, without it the first failure propagates."""
        for i, kwargs in enumerate(calls):
            _deliver(i, lambda kwargs=kwargs: fn(**kwargs), on_result, on_error)

    def close(self) -> None:
        pass

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


LOOPBACK = "127.0.0.1"


def _close_local_runtime() -> dict[str, Any]:
    """Settings that keep a runtime this process starts off the network: Ray's single-machine mode (its
    servers, agents and workers bind to loopback instead of every interface) and token authentication,
    with a random token held in this process's environment (inherited by the runtime's processes, never
    written to disk; a token the user set in ``RAY_AUTH_TOKEN`` is kept). Ray reads these settings when it
    is imported: set before that, or re-read here. Returns the matching ``ray.init`` options."""
    imported = "ray" in sys.modules
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    os.environ["RAY_AUTH_MODE"] = "token"
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    if imported:
        from ray._private import ray_constants
        from ray._raylet import Config

        ray_constants.ENABLE_RAY_CLUSTER = False
        Config.initialize("")
    return {"_node_ip_address": LOOPBACK, "include_dashboard": False}


def connect_ray(address: str, **init_kwargs: Any) -> tuple[Any, bool]:
    """Connect this process to Ray at ``address`` (see the module docstring); returns ``(ray, started)``,
    ``started`` False when the process was already connected.

    ``local`` starts a runtime bound to 127.0.0.1 behind a token (:func:`_close_local_runtime`; refused if
    Ray picked another address anyway). The driver's own ``isplab`` package is shipped to the cluster
    (``runtime_env`` ``py_modules``), so workers run the same isplab code as the driver even where another
    (or no) isplab is installed; isplab's dependencies (torch, ...) must be installed on every node.
    """
    loaded = sys.modules.get("ray")  # None also when an import of ray was blocked
    connected = loaded is not None and loaded.is_initialized()
    if address == "local" and not connected:  # before ray's import reads the settings, where possible
        init_kwargs = {**_close_local_runtime(), **init_kwargs}
    try:
        import ray
    except ImportError:
        raise IsplabError("--ray needs Ray: pip install 'isplab[ray]' (or run without --ray on one "
                          "machine)") from None
    if ray.is_initialized():
        return ray, False
    package = str(Path(__file__).resolve().parent)
    try:
        ray.init(address=address, runtime_env={"py_modules": [package]}, log_to_driver=False, **init_kwargs)
    except (ConnectionError, ValueError) as exc:
        raise IsplabError(f"--ray {address}: cannot connect to Ray ({exc}). Start a cluster first (`ray start "
                          "--head`, then --ray auto or --ray HEAD:6379) or use --ray local for one on this "
                          "machine; a cluster with token authentication also needs RAY_AUTH_MODE=token and its "
                          "token here (docs/scale-out.md)") from None
    if address == "local" and not ipaddress.ip_address(ray.util.get_node_ip_address()).is_loopback:
        found = ray.util.get_node_ip_address()
        ray.shutdown()
        raise IsplabError(f"--ray local: Ray bound its runtime to {found}, not to loopback, so it would be "
                          "reachable from the network; refused. Start a cluster yourself (docs/scale-out.md) "
                          "and pass --ray auto")
    return ray, True


class RayExecutor:
    """Runs each call as a Ray task on the cluster at ``address``, ``num_cpus``/``num_gpus`` reserved per task.

    Disconnects on :meth:`close` (or leaving a ``with`` block) if it made the connection.
    """

    remote = True

    def __init__(self, address: str, num_cpus: float = 1.0, num_gpus: float = 0.0):
        self.ray, self._started = connect_ray(address)
        self.num_cpus, self.num_gpus = num_cpus, num_gpus

    def map(self, fn: Callable[..., Any], calls: list[dict[str, Any]], on_result: OnResult,
            on_error: OnError | None = None) -> None:
        """Like :meth:`LocalExecutor.map`, the calls running in parallel as far as the cluster has room."""
        task = self.ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus)(fn)
        pending = {task.remote(**kwargs): i for i, kwargs in enumerate(calls)}
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in done:
                _deliver(pending.pop(ref), lambda ref=ref: self.ray.get(ref), on_result, on_error)

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
