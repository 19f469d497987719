"""``isplab adapt``: few-shot fine-tuning from given weights on the first N pairs of a folder."""

from __future__ import annotations

import pytest
import yaml

from isplab.cli import main
from isplab.data import synthesize_dataset
from isplab.errors import IsplabError
from isplab.models.weights import load_checkpoint, pretrained_path
from isplab.train.adapt import adapt_config
from isplab.train.config import DataConfig
from isplab.train.data import build_run_data


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("adapt") / "cam", n=4, val=2, seed=3, size=32)


def test_adapt_cli_starts_from_weights_and_uses_only_n_pairs(folder, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["adapt", "--weights", "pretrained:smallnet", "--data", str(folder), "--out", str(out),
                 "--shots", "2", "--steps", "2", "--lr", "1e-7", "--no-progress"]) == 0
    assert "2 pair(s)" in capsys.readouterr().out
    saved = yaml.safe_load((out / "config.yml").read_text())
    assert saved["init"] == "pretrained:smallnet" and saved["data"]["shots"] == 2 and saved["model"] == "smallnet"
    assert saved["stages"][0]["steps"] == 2
    start = load_checkpoint(pretrained_path("smallnet"))["model"]
    end = load_checkpoint(out / "checkpoints" / "last.pt")["model"]
    # two steps at lr 1e-7 barely move the pretrained weights (a fresh init would be far away)
    assert max((end[k].float() - start[k].float()).abs().max().item() for k in start) < 1e-5
    data = build_run_data(DataConfig(path=str(folder), shots=2, patch=None), seed=0)
    assert len(data.train.dataset) == 2 and data.train.dataset.positions == [0, 1]


def test_adapt_cli_too_many_shots_is_one_line_error(folder, tmp_path, capsys):
    assert main(["adapt", "--weights", "pretrained:smallnet", "--data", str(folder), "--out",
                 str(tmp_path / "run"), "--shots", "9", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--shots 9" in err and "only 4 training pairs" in err
    assert not (tmp_path / "run").exists()


def test_adapt_config_defaults_and_checks(folder):
    cfg = adapt_config("pretrained:smallnet", folder, shots=3)
    assert cfg.init == "pretrained:smallnet" and cfg.schedule.name == "cosine" and cfg.data.shots == 3
    assert cfg.data.patch is None  # 32x32 pairs: smaller than the default crop, so whole pairs
    with pytest.raises(IsplabError, match="--steps"):
        adapt_config("pretrained:smallnet", folder, steps=0)
    with pytest.raises(IsplabError, match="--data"):
        adapt_config("pretrained:smallnet", folder / "missing")
    with pytest.raises(Exception, match="shots"):
        build_run_data(DataConfig(path=str(folder), shots=5), seed=0)
    with pytest.raises(Exception, match="shots"):
        build_run_data(DataConfig(path=None, shots=2), seed=0)
