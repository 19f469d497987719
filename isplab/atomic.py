"""Atomic file writes: temp file beside the target, fsync, rename over it.

Readers (and a crash) see the old file or the new one, never half of it.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

#: When this process started using the module: temp files older than this belong to earlier processes.
_STARTED = time.time()


def write_atomic(path: str | Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(binary_file)`` on a temp file beside ``path``, then :func:`publish` it as ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete temp files of :func:`write_atomic` (``.NAME.XXXX.tmp``) that an interrupted earlier process left
    in ``folder`` (older than this process). Returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.glob(".*.tmp") if p.is_file() and p.stat().st_mtime < _STARTED]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
