"""Checksums of files written once and read many times (shipped weights, packed-store shards), verified
when they are loaded.

A file is hashed once per version: a match is remembered by path, size and modification time, in this
process and in ``verified.json`` of isplab's cache folder (``$ISPLAB_CACHE_DIR``, else
``$XDG_CACHE_HOME/isplab``, else ``~/.cache/isplab``), so a 40 GB store is not re-read by every run that
opens it. A changed or damaged file (other size or time) is hashed again; a mismatch is a
:class:`~isplab.errors.DataError` naming the file.

Manifests (``SHA256SUMS`` beside the files, the format of ``sha256sum``) record the expected digests of a
folder of files, e.g. ``isplab/weights/SHA256SUMS``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from isplab.errors import DataError

MANIFEST = "SHA256SUMS"
_VERIFIED: set[tuple[str, int, int, str]] = set()


def cache_dir() -> Path:
    """isplab's per-user cache folder (see the module docstring)."""
    if os.environ.get("ISPLAB_CACHE_DIR"):
        return Path(os.environ["ISPLAB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "isplab"


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: str | Path) -> dict[str, str]:
    """``{file name: hex digest}`` of ``folder/SHA256SUMS`` (empty when there is none)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    entries = {}
    for line in path.read_text().splitlines():
        digest, _, name = line.strip().partition("  ")
        if digest and name:
            entries[name.lstrip("*")] = digest
    return entries


def write_manifest(folder: str | Path, pattern: str) -> Path:
    """Write ``folder/SHA256SUMS`` for the files matching ``pattern`` (sorted by name)."""
    from isplab.atomic import write_text_atomic

    folder = Path(folder)
    lines = [f"{sha256_file(p)}  {p.name}\n" for p in sorted(folder.glob(pattern)) if p.is_file()]
    return write_text_atomic(folder / MANIFEST, "".join(lines))


def _key(path: Path, expected: str) -> tuple[str, int, int, str]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns, expected


def _cache_file() -> Path:
    return cache_dir() / "verified.json"


def _cached(key: tuple[str, int, int, str]) -> bool:
    try:
        entry = json.loads(_cache_file().read_text()).get(key[0])
    except (OSError, ValueError, AttributeError):
        return False
    return entry == list(key[1:])


def _remember(key: tuple[str, int, int, str]) -> None:
    """Record a verified file in the cache (best effort: an unwritable cache only costs a re-hash)."""
    from isplab.atomic import write_text_atomic

    _VERIFIED.add(key)
    try:
        try:
            known = json.loads(_cache_file().read_text())
        except (OSError, ValueError):
            known = {}
        if not isinstance(known, dict):
            known = {}
        known[key[0]] = list(key[1:])
        write_text_atomic(_cache_file(), json.dumps(known, indent=0))
    except OSError:
        pass


def verify(path: str | Path, expected: str, digest: Callable[[Path], str], fix: str) -> None:
    """Check that ``digest(path) == expected``, hashing only a version of the file not verified before.

    Raises:
        DataError: the digest differs (the file is damaged or was changed), naming the file and ``fix``.
    """
    path = Path(path)
    key = _key(path, expected)
    if key in _VERIFIED or _cached(key):
        _VERIFIED.add(key)
        return
    if digest(path) != expected:
        raise DataError(path, "contents do not match the recorded checksum (the file is damaged or was changed)",
                        fix)
    _remember(key)


def verify_listed(path: str | Path, fix: str) -> None:
    """Verify ``path`` against the ``SHA256SUMS`` manifest of its folder; a file the manifest does not list
    is an error too (an unlisted file in a checksummed folder was not shipped)."""
    path = Path(path)
    expected = read_manifest(path.parent).get(path.name)
    if expected is None:
        raise DataError(path, f"is not listed in {path.parent / MANIFEST}", fix)
    verify(path, expected, sha256_file, fix)
