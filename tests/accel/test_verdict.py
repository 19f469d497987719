"""Accelerator verdicts (isplab.accel.verdict): garbage outputs fail, unavailable targets fail, strict adds
partial offload / CPU fallback."""

from __future__ import annotations

import numpy as np

from isplab.accel.verdict import AccelBudget, AccelReport, GpuVerdict, HtpVerdict, Unavailable, compare

REF = [np.full((1, 4, 4, 3), 0.5, np.float32)]


def test_close_outputs_pass_and_far_ones_fail():
    ok = compare("fp16", "PyTorch", [REF[0] + 1e-3], REF, AccelBudget())
    assert ok.passed and abs(ok.max_abs - 1e-3) < 1e-6 and 59 < ok.psnr < 61
    bad = compare("fp16", "PyTorch", [REF[0] + 0.8], REF, AccelBudget())
    assert not bad.passed and "FAIL" in bad.render()


def test_all_zero_and_nan_outputs_fail_whatever_the_budget():
    lax = AccelBudget(fp32_max_abs=10.0, fp16_max_abs=10.0, fp16_min_psnr=-100.0)
    zeros = compare("fp32", "PyTorch", [np.zeros_like(REF[0])], REF, lax)
    assert not zeros.passed and "all-zero" in zeros.problem
    nan = REF[0].copy()
    nan[0, 0, 0, 0] = np.nan
    assert not compare("fp16", "PyTorch", [nan], REF, lax).passed
    assert not compare("fp16", "PyTorch", [], REF, lax).passed  # an output missing is no pass


def test_failures_count_unavailable_targets_and_strict_adds_fallback():
    good = compare("fp16", "CPU LiteRT", REF, REF, AccelBudget())
    report = AccelReport("m", (8, 8), htp=[HtpVerdict("SM8450", 10, 10, 1, 1.0, [good])],
                         gpu=GpuVerdict(False, ["STRIDED_SLICE: no shrink"], 40, 5, [good]))
    assert report.failures() == []
    assert report.failures(strict=True) == ["GPU: falls back to the CPU (5 ops on CPU: STRIDED_SLICE: no shrink)"]
    report.unavailable.append(Unavailable("htp:SM8550", "the htp toolchain is not set up"))
    assert any("NOT CHECKED" in line for line in report.failures())
    partial = AccelReport("m", (8, 8), htp=[HtpVerdict("SM8450", 9, 10, 2, 1.0)])
    assert partial.failures() == [] and partial.failures(strict=True)
    unsimulated = AccelReport("m", (8, 8), htp=[HtpVerdict("SM8450", 10, 10, 1, 1.0)])
    assert unsimulated.failures()  # fully compiled but never run: not a pass
    assert report.cells()["GPU"].startswith("5 ops on CPU")
