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
