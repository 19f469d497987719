"""Scoring (isplab.evaluate): per-image means, clipping, broken outputs, the ``isplab eval`` report."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from isplab.data.splits import EvalSet, folder_eval_set
from isplab.data.synth import synthesize_dataset
from isplab.errors import IsplabError
from isplab.evaluate import EvalReport, evaluate, evaluate_checkpoint
from isplab.metrics import delta_e, psnr, ssim
from isplab.models import create_model, save_checkpoint
from isplab.models.weights import model_checkpoint


def _images(n: int = 5, size: int = 16) -> EvalSet:
    """``n`` images whose raw carries the target at half resolution (channels 0-2), so ``_develop`` is exact;
    every target is binary, so pushing outputs past 0 and 1 changes nothing once clipped."""
    low = (torch.rand(n, 3, size // 2, size // 2, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    raw = torch.cat([low, torch.zeros(n, 1, size // 2, size // 2)], dim=1)
    target = F.interpolate(low, scale_factor=2)

    def batches(batch_size: int):
        for i in range(0, n, batch_size):
            yield raw[i:i + batch_size], target[i:i + batch_size]

    return EvalSet("val", f"{n} test images", n, batches)


def _develop(raw: torch.Tensor) -> torch.Tensor:
    return F.interpolate(raw[:, :3], scale_factor=2)


def _noisy(raw: torch.Tensor) -> torch.Tensor:
    return _develop(raw) * 0.8 + 0.1 * raw[:, :1].repeat_interleave(2, -1).repeat_interleave(2, -2)


def test_scores_are_per_image_means_whatever_the_batch_size():
    images = _images()
    scores = [evaluate(_noisy, images, batch_size=b) for b in (1, 2, 5)]
    assert scores[0] == pytest.approx(scores[1]) and scores[0] == pytest.approx(scores[2])
    raw, target = next(images.batches(5))
    pred = _noisy(raw)
    expected = {"psnr": psnr(pred, target).item(), "ssim": ssim(pred, target).item(),
                "delta_e": delta_e(pred, target).item(), "count": 5}
    assert scores[0] == pytest.approx(expected, rel=1e-5)


def test_outputs_are_clipped_before_scoring():
    images = _images()
    exact = evaluate(_develop, images, metrics=("ssim", "delta_e"))
    overshoot = evaluate(lambda raw: _develop(raw) * 4 - 1.5, images, metrics=("ssim", "delta_e"))
    assert overshoot == exact and exact["ssim"] == pytest.approx(1) and exact["delta_e"] == pytest.approx(0)
    assert set(exact) == {"ssim", "delta_e", "count"}  # only the metrics asked for


class _DroppyDevelop(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.drop = torch.nn.Dropout(0.9)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return _develop(self.drop(raw))


def test_a_module_is_scored_in_eval_mode():
    torch.manual_seed(0)
    model, images = _DroppyDevelop().train(), _images()
    exact = evaluate(_develop, images, metrics=("ssim",))
    assert evaluate(lambda raw: model(raw), images, metrics=("ssim",))["ssim"] < 0.9  # a callable: left alone
    assert model.training
    assert evaluate(model, images, metrics=("ssim",)) == exact  # a module: eval mode, no dropout
    assert not model.training


def test_empty_set_and_broken_output_are_clear_errors():
    with pytest.raises(ValueError, match="empty set.*0 test images"):
        evaluate(_develop, _images(0))
    with pytest.raises(IsplabError, match=r"not finite \(NaN/inf\) on 5 test images.*retrain with a lower LR"):
        evaluate(lambda raw: _develop(raw) * torch.nan, _images())


def test_report_renders_and_serialises():
    rows = {"smallnet": {"psnr": 21.5, "ssim": 0.81234, "delta_e": 7.5, "count": 2},
            "classic_isp": {"psnr": 18.25, "ssim": 0.7, "delta_e": 9.0, "count": 2}}
    report = EvalReport("w.pt", "2 pairs", "val", rows, "ClassicISP(grey-world)")
    lines = report.render().splitlines()
    assert lines[0] == "scored on 2 pairs" and lines[-1] == "classic_isp: ClassicISP(grey-world)"
    assert lines[1] == "trained: paired" and lines[3].split() == ["smallnet", "21.500", "0.8123", "7.50"]
    assert report.to_dict() == {"weights": "w.pt", "scored_on": "2 pairs", "split": "val", "results": rows,
                                "classic_isp": "ClassicISP(grey-world)", "trained": "paired"}


def test_checkpoint_is_scored_with_the_classical_isp(tmp_path):
    torch.manual_seed(0)
    model = create_model("smallnet")
    weights = save_checkpoint(tmp_path / "w.pt", model_checkpoint("smallnet", {}, model))
    data = synthesize_dataset(tmp_path / "data", n=1, val=1, size=64)
    report = evaluate_checkpoint(weights, data, split="val", json_path=tmp_path / "out" / "r.json")
    assert list(report.rows) == ["smallnet", "classic_isp"] and report.split == "val"
    assert report.rows["smallnet"] == pytest.approx(evaluate(model, folder_eval_set(data, "val")))
    assert json.loads((tmp_path / "out" / "r.json").read_text()) == report.to_dict()
    with pytest.raises(IsplabError, match="--split all needs --data"):
        evaluate_checkpoint(weights, split="all")
