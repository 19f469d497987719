"""Atomic file writes: temp file beside the target, fsync, rename over it.

Readers (and a crash) see the old file or the new one, never half of it. Temp files are named
``.NAME.isplab-HOST-PID.XXXXXXXX.tmp``: the writer's host and process id mark whose they are, so
:func:`remove_stale_temps` deletes only isplab temps whose writer is gone, never another program's files
nor those of an isplab process still writing (two exports into one folder leave each other alone).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

_TEMP = re.compile(r"^\..+\.isplab-(?P<host>\w*)-(?P<pid>\d+)\.[^.]+\.tmp$")


def _host() -> str:
    return re.sub(r"\W", "_", socket.gethostname())[:32]


def make_temp(path: str | Path) -> tuple[int, str]:
    """``(fd, name)`` of a new temp file beside ``path`` carrying this process's owner marker."""
    path = Path(path)
    return tempfile.mkstemp(prefix=f".{path.name[:100]}.isplab-{_host()}-{os.getpid()}.", suffix=".tmp",
                            dir=path.parent)


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(binary_file)`` on a temp file beside ``path``, then :func:`publish` it as ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = make_temp(path)
    try:
        with named_errors(path), os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextmanager
def named_errors(path: str | Path) -> Iterator[None]:
    """Give an ``OSError`` raised while writing ``path`` (a full disk: writes to an open file name none) the
    file's name, so the one-line error says which output could not be written."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def publish(tmp: str | Path, path: str | Path) -> Path:
    """Give the finished temp file ``tmp`` the usual umask-based mode and rename it over ``path``.

    A bare ``mkstemp`` file is mode 0600; these files (checkpoints, models, images, JSON) are meant to be shared.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return Path(path)


def install_folder(tmp: str | Path, out: str | Path, recheck: Callable[[Path], None]) -> Path:
    """Move the finished folder ``tmp`` to ``out`` by rename. An empty ``out`` is replaced; an existing one
    is first passed to ``recheck`` (which raises unless it may be replaced: another process may have written
    it meanwhile), then swapped out only now and deleted, so a failure never leaves ``out`` half-written."""
    import shutil

    tmp, out = Path(tmp), Path(out)
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if out.exists():
        recheck(out)
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, trash / "old")
        os.replace(tmp, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, out)
    return out


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def check_writable(path: str | Path, what: str = "output") -> Path:
    """Fail before any work if ``path`` cannot be written: it is a folder, sits under a file, or its folder
    is not writable. Creates missing parent folders (as writing would). Raises :class:`IsplabError`."""
    from isplab.errors import IsplabError

    path = Path(path)
    if path.is_dir():
        raise IsplabError(f"{path}: is a folder, not a file. Give a file name for the {what}")
    check_folder(path.parent, what)
    return path


def check_folder(path: str | Path, what: str = "output") -> Path:
    """Fail before any work if files cannot be written into folder ``path``: it is a file, sits under a file,
    or is not writable. Creates it when missing. Raises :class:`IsplabError`."""
    from isplab.errors import IsplabError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise IsplabError(f"{path}: is a file, not a folder. Choose another place for the {what}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise IsplabError(f"{path}: a parent of this folder is a file. Choose another place for the {what}") from None
    except PermissionError:
        raise IsplabError(f"{path}: cannot create this folder (permission denied). "
                          f"Choose a writable place for the {what}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise IsplabError(f"{path}: folder is not writable. Choose a writable place for the {what}")
    return path


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temp files of :func:`make_temp` in ``folder`` whose writer (a process of this host) is gone:
    what an interrupted isplab left. Other files, and temps of live or remote writers, stay. Returns what
    was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = []
    for path in folder.glob(".*.isplab-*.tmp"):
        owner = _TEMP.match(path.name)
        if owner and owner["host"] == _host() and not _running(int(owner["pid"])) and path.is_file():
            path.unlink(missing_ok=True)
            stale.append(path)
    return stale
