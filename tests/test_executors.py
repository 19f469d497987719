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


def _listening_sockets() -> list[tuple[int, str, int]]:
    """``(pid, address, port)`` of every TCP socket listening in this process or its descendants (the local
    Ray runtime's GCS, raylet, agents and workers), read from /proc."""
    import ipaddress
    import os
    import socket

    listening = {}
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # TCP_LISTEN
                continue
            host, port = fields[1].split(":")
            raw = bytes.fromhex(host)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # /proc: host-order words
            listening[fields[9]] = (str(ipaddress.ip_address(socket.inet_ntop(family, raw))), int(port, 16))
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            parents[int(pid)] = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue

    def ours(pid: int) -> bool:
        while pid > 1:
            if pid == os.getpid():
                return True
            pid = parents.get(pid, 0)
        return False

    found = []
    for pid in filter(ours, parents):
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        found += [(pid, *listening[link[8:-1]]) for link in links if link[8:-1] in listening]
    return sorted(set(found))


def _loopback(address: str) -> bool:
    import ipaddress

    ip = ipaddress.ip_address(address)
    return ip.is_loopback or (ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped.is_loopback)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux /proc")
def test_local_runtime_listens_on_loopback_only(ray_runtime) -> None:
    """The runtime `--ray local` starts (the fixture starts it through connect_ray, as the CLI does): GCS,
    raylet, agents and workers listen on 127.0.0.1 only, never on 0.0.0.0, :: or the host's address."""
    ray_runtime.get(ray_runtime.remote(lambda: 1).remote())  # a worker is up too
    sockets = _listening_sockets()
    assert len({pid for pid, _, _ in sockets}) >= 4, sockets  # driver, GCS, raylet, agents, worker
    assert [s for s in sockets if not _loopback(s[1])] == [], sockets


def test_local_runtime_refuses_a_driver_without_its_token(ray_runtime) -> None:
    import os
    import subprocess

    gcs = ray_runtime.get_runtime_context().gcs_address
    code = ("import ray, sys; ray.init(address=sys.argv[1], log_to_driver=False); "
            "print('ran', ray.get(ray.remote(lambda: 42).remote()))")

    def connect(token: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_NUM_REDIS_GET_RETRIES": "2"}
        return subprocess.run([sys.executable, "-c", code, gcs], env=env, capture_output=True, text=True,
                              timeout=120)

    intruder = connect("0" * 64)
    assert intruder.returncode != 0 and "ran" not in intruder.stdout
    assert "InvalidAuthToken" in intruder.stderr
    assert "ran 42" in connect(os.environ["RAY_AUTH_TOKEN"]).stdout  # the same driver with the token gets in
