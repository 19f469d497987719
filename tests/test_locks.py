"""Folder locks (isplab.locks): one writer at a time, a dead writer's lock taken over and said so; a training
run is locked, so a second `isplab train --resume` of it is refused in one line."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from isplab.cli import main
from isplab.errors import IsplabError
from isplab.locks import folder_lock


def test_a_held_lock_refuses_a_second_holder_and_is_released_after(tmp_path):
    lines = []
    with folder_lock(tmp_path, "training", lines.append) as path:
        assert path.read_text().startswith(f"pid {__import__('os').getpid()} on ")
        with pytest.raises(IsplabError, match=r"another isplab process \(pid \d+ on .*\) is training this folder"):
            with folder_lock(tmp_path, "training", lines.append):
                pass
    assert path.read_text() == "" and lines == []  # released: empty, not deleted
    with folder_lock(tmp_path, "training", lines.append):
        pass
    assert lines == []  # a cleanly released lock is not "taken over"


def test_the_lock_of_a_dead_process_is_taken_over_and_said_so(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (tmp_path / ".lock").write_text(f"pid {child.pid} on somehost\n")  # killed while training
    lines = []
    with folder_lock(tmp_path, "training", lines.append):
        pass
    assert lines == [f"warning: {tmp_path}: took over the lock of pid {child.pid} on somehost, which is no longer "
                     "running (it was interrupted)"]


def test_a_second_train_resume_of_a_run_being_trained_is_refused(tmp_path, capsys):
    """Two `isplab train --resume` of one run: the second is refused while the first trains; once the first is
    killed (-9), its lock is taken over."""
    from isplab.data import synthesize_dataset

    data = synthesize_dataset(tmp_path / "data", n=2, val=1, test=0, size=32)
    run = tmp_path / "run"
    argv = ["train", "--model", "mialgo_3conv", "--data", str(data), "--out", str(run), "--batch-size", "1",
            "--no-progress"]
    assert main([*argv, "--steps", "1"]) == 0
    capsys.readouterr()
    first = subprocess.Popen([sys.executable, "-m", "isplab", *argv, "--steps", "1000000", "--resume"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (run / ".lock").read_text().startswith(f"pid {first.pid} "):
            assert first.poll() is None and time.monotonic() < deadline, "the first run did not start"
            time.sleep(0.05)
        assert main([*argv, "--steps", "1000000", "--resume"]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"(pid {first.pid} on" in err and "is training this folder" in err, err
    finally:
        first.kill()
        first.wait()
    assert main([*argv, "--steps", "2", "--resume"]) == 0
    assert f"took over the lock of pid {first.pid}" in capsys.readouterr().err
