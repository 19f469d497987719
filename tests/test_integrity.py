"""Checksums verified on load (isplab.integrity): hashed once per file version, mismatches named."""

from __future__ import annotations

import os

import pytest

import isplab.integrity as integrity
from isplab.errors import DataError
from isplab.integrity import read_manifest, sha256_file, verify, verify_listed, write_manifest


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """A digest function that counts its calls, a fresh in-process memo and a private cache folder."""
    monkeypatch.setattr(integrity, "_VERIFIED", set())
    monkeypatch.setenv("ISPLAB_CACHE_DIR", str(tmp_path / "cache"))
    calls = []

    def digest(path):
        calls.append(path)
        return sha256_file(path)

    return digest, calls


def test_a_file_is_hashed_once_per_version(tmp_path, counted, monkeypatch):
    digest, calls = counted
    path = tmp_path / "shard.npy"
    path.write_bytes(b"pairs" * 1000)
    expected = sha256_file(path)
    for _ in range(3):
        verify(path, expected, digest, "re-pack it")
    assert len(calls) == 1
    monkeypatch.setattr(integrity, "_VERIFIED", set())  # another process: the cache file remembers
    verify(path, expected, digest, "re-pack it")
    assert len(calls) == 1 and (tmp_path / "cache" / "verified.json").is_file()
    path.write_bytes(b"pairs" * 999 + b"PAIRS")  # changed: hashed again, and refused
    os.utime(path, ns=(1, 1))
    with pytest.raises(DataError, match=r"shard\.npy: contents do not match the recorded checksum .* re-pack it"):
        verify(path, expected, digest, "re-pack it")
    assert len(calls) == 2


def test_an_unwritable_cache_only_costs_a_rehash(tmp_path, counted, monkeypatch):
    digest, calls = counted
    (tmp_path / "cache").write_text("a file where the cache folder would go")
    path = tmp_path / "w.pt"
    path.write_bytes(b"weights")
    verify(path, sha256_file(path), digest, "fix")
    monkeypatch.setattr(integrity, "_VERIFIED", set())
    verify(path, sha256_file(path), digest, "fix")
    assert len(calls) == 2


def test_manifests_list_every_file_and_refuse_unlisted_ones(tmp_path, counted):
    for name in ("a.pt", "b.pt"):
        (tmp_path / name).write_bytes(name.encode())
    write_manifest(tmp_path, "*.pt")
    assert read_manifest(tmp_path) == {"a.pt": sha256_file(tmp_path / "a.pt"), "b.pt": sha256_file(tmp_path / "b.pt")}
    verify_listed(tmp_path / "a.pt", "reinstall")
    (tmp_path / "c.pt").write_bytes(b"c")
    with pytest.raises(DataError, match=r"c\.pt: is not listed in .*SHA256SUMS"):
        verify_listed(tmp_path / "c.pt", "reinstall")
