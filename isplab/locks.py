"""Advisory folder locks: one isplab process at a time writes a folder (e.g. a training run).

The lock is ``FOLDER/.lock``, held with ``flock`` while the work runs and holding the owner's process id.
The kernel releases it when its owner dies, however it dies, so a lock file that names a process but is
not held was left by a process that is gone: it is taken over, and the taking over is reported. A
released lock file is left empty (deleting it would let two waiters lock two different files).
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from isplab.errors import IsplabError

LOCK_NAME = ".lock"


@contextmanager
def folder_lock(folder: str | Path, doing: str, warn: Callable[[str], None]) -> Iterator[Path]:
    """Hold ``folder/.lock`` for the duration of the block.

    Args:
        doing: what the holder does to the folder, for the refusal (e.g. ``"training"``).
        warn: receives one line when a dead process's lock is taken over.

    Raises:
        IsplabError: another live process holds the lock (one line naming it and the fix).
    """
    path = Path(folder) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 (held for the whole block)
    try:
        handle.seek(0)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = handle.read().strip() or "owner unknown"
            raise IsplabError(f"{folder}: another isplab process ({owner}) is {doing} this folder. Wait for it "
                              "to finish (or stop it), then run again") from None
        previous = handle.read().strip()
        if previous:
            warn(f"warning: {folder}: took over the lock of {previous}, which is no longer running "
                 "(it was interrupted)")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
    finally:
        handle.close()
