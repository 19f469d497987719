"""The parity proof (isplab.export.parity): pass rules, tampered files, targets, vacuous references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from isplab.export.convert import convert_float
from isplab.export.parity import ParityBudget, ParityError, check_parity, run_torch
from isplab.export.samples import Sample, raw_frame_samples, synthetic_samples

SIZE = (32, 48)


@pytest.fixture(scope="module")
def tflite(smallnet, tmp_path_factory):
    path = tmp_path_factory.mktemp("parity") / "smallnet.tflite"
    path.write_bytes(convert_float(smallnet, SIZE))
    return path


def test_converted_file_passes_on_synthetic_and_real_frames(tflite, smallnet, real_frames):
    samples = raw_frame_samples(real_frames, SIZE) + synthetic_samples(SIZE)
    report = check_parity(tflite, smallnet, samples)
    assert report.passed and report.max_abs <= 1e-4 and not report.vacuous
    assert [s.name for s in report.samples][:2] == [name for name, _ in real_frames]
    assert "parity (fp32): PASS" in report.render()


def test_tampered_file_fails_and_raises(tflite, smallnet, tmp_path, tamper_conv_weight):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(tamper_conv_weight(tflite.read_bytes(), delta=0.2))
    report = check_parity(bad, smallnet, synthetic_samples(SIZE), raise_on_failure=False)
    assert not report.passed and report.max_abs > 1e-3 and "exceeds" in report.rule
    with pytest.raises(ParityError, match="max-abs"):
        check_parity(bad, smallnet, synthetic_samples(SIZE))


def test_unloadable_file_is_a_parity_error(smallnet, tmp_path):
    bad = tmp_path / "junk.tflite"
    bad.write_bytes(b"TFL3 not really")
    with pytest.raises(ParityError, match="junk.tflite"):
        check_parity(bad, smallnet, synthetic_samples(SIZE))


def test_sample_targets_give_target_based_loss(tflite, smallnet):
    x = synthetic_samples(SIZE, n=1)[0].packed
    target = np.clip(run_torch(smallnet, x)[0].transpose(2, 0, 1) * 0.9, 0, 1)
    report = check_parity(tflite, smallnet, [Sample("t", x, target)])
    assert report.target_loss is not None and abs(report.target_loss) < 1e-3


def test_constant_reference_output_is_flagged_vacuous(tflite):
    class Constant(nn.Module):
        def forward(self, x):
            return torch.full((x.shape[0], 3, 2 * x.shape[2], 2 * x.shape[3]), 0.5)

    report = check_parity(tflite, Constant(), synthetic_samples(SIZE), raise_on_failure=False)
    assert report.vacuous and "cannot see the weights" in report.render()


def test_quantized_bound_without_targets():
    budget = ParityBudget()
    assert budget.min_psnr_vs_torch("fp16") == pytest.approx(40.3, abs=0.05)
    assert budget.min_psnr_vs_torch("int8") == pytest.approx(29.9, abs=0.05)
    assert budget.optimized_max_abs < budget.fp32_max_abs
