"""Toolchain cache (isplab.accel.toolchains): where it lives, what is missing, the worker environment."""

from __future__ import annotations

import json
import os

from isplab.accel.toolchains import CACHE_ENV, Toolchains, cache_dir


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"
    assert cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv(CACHE_ENV)
    assert cache_dir().parts[-3:] == (".cache", "isplab", "accel")


def test_missing_toolchains_say_how_to_set_them_up(tmp_path):
    chains = Toolchains.load(tmp_path)
    assert "isplab accel setup" in chains.missing("htp") and "isplab accel setup" in chains.missing("gpu")
    (tmp_path / "manifest.json").write_text(json.dumps({"gpu": {"library_path": [str(tmp_path / "gone")],
                                                                "icd": "x", "versions": "", "licence": ""}}))
    assert "lost" in Toolchains.load(tmp_path).missing("gpu")


def test_worker_environment_leaves_this_process_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("LD_LIBRARY_PATH", "/already")
    chains = Toolchains(tmp_path, gpu={"library_path": [str(tmp_path)], "icd": "/x/lvp.json"})
    env = chains.env("gpu")
    assert env["LD_LIBRARY_PATH"] == f"{tmp_path}{os.pathsep}/already" and env["VK_ICD_FILENAMES"] == "/x/lvp.json"
    assert os.environ["LD_LIBRARY_PATH"] == "/already" and "VK_ICD_FILENAMES" not in os.environ
