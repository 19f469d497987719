"""Atomic writes and output checks (isplab.atomic): shared file modes, folders checked before any work."""

from __future__ import annotations

import os
import stat

import pytest

from isplab.atomic import check_folder, check_writable, publish, write_atomic
from isplab.errors import IsplabError


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_published_files_get_the_umask_mode_not_mkstemps_0600(tmp_path, umask_022):
    tmp = tmp_path / ".model.tflite.x.tmp"
    tmp.write_bytes(b"data")
    tmp.chmod(0o600)  # what tempfile.mkstemp creates
    out = publish(tmp, tmp_path / "model.tflite")
    assert stat.S_IMODE(out.stat().st_mode) == 0o644 and not tmp.exists()
    written = write_atomic(tmp_path / "a.json", lambda f: f.write(b"{}"))
    assert stat.S_IMODE(written.stat().st_mode) == 0o644


def test_check_folder_creates_missing_folders_and_refuses_files(tmp_path):
    assert check_folder(tmp_path / "a" / "b", "output").is_dir()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(IsplabError, match=r"afile: is a file, not a folder\. Choose another place for the output"):
        check_folder(tmp_path / "afile", "output")
    with pytest.raises(IsplabError, match=r"sub: a parent of this folder is a file\. Choose another place"):
        check_folder(tmp_path / "afile" / "sub", "output")


def test_unwritable_folders_are_refused(read_only_dir):
    with pytest.raises(IsplabError, match=r"read-only: folder is not writable\. Choose a writable place for the "
                                          r"report"):
        check_folder(read_only_dir, "report")
    with pytest.raises(IsplabError, match="read-only: folder is not writable"):
        check_writable(read_only_dir / "x.json", "JSON")


def test_install_folder_replaces_only_after_the_recheck(tmp_path):
    from isplab.atomic import install_folder
    from isplab.errors import IsplabError

    out, new = tmp_path / "out", tmp_path / "new"
    (out / "old.txt").parent.mkdir()
    (out / "old.txt").write_text("old")
    new.mkdir()
    (new / "new.txt").write_text("new")

    def refuse(existing):
        raise IsplabError(f"{existing}: not replaceable")

    with pytest.raises(IsplabError):
        install_folder(new, out, refuse)
    assert (out / "old.txt").read_text() == "old" and (new / "new.txt").exists()  # nothing moved
    install_folder(new, out, lambda existing: None)
    assert [p.name for p in out.iterdir()] == ["new.txt"] and not new.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # the old folder is gone, no trash left


def test_only_isplab_temps_of_dead_writers_are_removed(tmp_path, stale_temp):
    from isplab.atomic import make_temp, remove_stale_temps

    theirs = tmp_path / ".thesis.tmp"  # another program's temp file, however old
    theirs.write_text("chapter 3")
    os.utime(theirs, (0, 0))
    lookalike = tmp_path / ".x.png.abc123.tmp"  # the pre-marker pattern: not provably isplab's
    lookalike.write_text("?")
    fd, live = make_temp(tmp_path / "live.png")  # a writer that is still running (this process)
    os.close(fd)
    dead = stale_temp(tmp_path, "dead.png")
    assert remove_stale_temps(tmp_path) == [dead]
    assert theirs.read_text() == "chapter 3" and lookalike.exists() and os.path.exists(live) and not dead.exists()


def test_temp_names_carry_an_owner_marker(tmp_path):
    import socket

    from isplab.atomic import make_temp

    fd, name = make_temp(tmp_path / "model.tflite")
    os.close(fd)
    host = "".join(c if c.isalnum() or c == "_" else "_" for c in socket.gethostname())[:32]
    assert os.path.basename(name).startswith(f".model.tflite.isplab-{host}-{os.getpid()}.") and name.endswith(".tmp")


_SLOW_WRITER = """
import sys, time
from pathlib import Path
from isplab.atomic import write_atomic
folder = Path(sys.argv[1])
def write(f):
    f.write(b"first half ")
    f.flush()
    (folder / "started").touch()
    while not (folder / "go").exists():
        time.sleep(0.02)
    f.write(b"second half")
write_atomic(folder / "model.tflite", write)
"""

_CLEANING_WRITER = """
import sys
from pathlib import Path
from isplab.atomic import remove_stale_temps, write_text_atomic
folder = Path(sys.argv[1])
print("removed", remove_stale_temps(folder))
write_text_atomic(folder / "model.tflite", "the second process's file")
write_text_atomic(folder / "other.json", "{}")
"""


def test_concurrent_writers_into_one_folder_never_touch_each_others_temps(tmp_path):
    """A second isplab process cleaning and writing the same folder (even the same file name) while the
    first is mid-write: the first finishes intact."""
    import subprocess
    import sys
    import time

    first = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(tmp_path)])
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists():
            assert first.poll() is None and time.monotonic() < deadline, "the first writer did not start"
            time.sleep(0.02)
        second = subprocess.run([sys.executable, "-c", _CLEANING_WRITER, str(tmp_path)], capture_output=True,
                                text=True, timeout=120)  # started after the first's temp file exists
        assert second.returncode == 0 and second.stdout.strip() == "removed []", second.stderr
        (tmp_path / "go").touch()
        assert first.wait(timeout=60) == 0
    finally:
        first.kill()
    assert (tmp_path / "model.tflite").read_bytes() == b"first half second half"  # the last rename wins, whole
    assert not list(tmp_path.glob(".*.tmp"))
