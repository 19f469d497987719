"""Accelerator checks on the real toolchains (isplab.accel.check): Qualcomm's HTP compiler + simulator and
LiteRT's GPU runtime. Known verdicts: the official MicroISP file is miscomputed by the HTP (DepthToSpace ->
Concat) and isplab's optimised export of its weights is not; JMU-CVLab's file falls back to the CPU on
the GPU (STRIDED_SLICE). Small tiles keep each check to seconds."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isplab.accel.check import check_model, check_tflite, export_check, parse_targets
from isplab.accel.toolchains import Toolchains
from isplab.errors import IsplabError
from isplab.export.convert import ExportError, export_tflite
from isplab.export.tflite_weights import load_tflite_model
from isplab.models.ops import DepthToSpaceConcat

MICROISP = ("peers", "microisp-official", "MicroISP.tflite")
JMU = ("peers", "jmu-cvlab-mai22", "model.tflite")
TILE = (162, 216)


class PlanesHead(nn.Module):
    """The pattern alone: three convolutions, each DepthToSpace'd to one plane, concatenated."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.convs = nn.ModuleList([nn.Conv2d(4, 4, 3, padding=1) for _ in range(3)])
        self.to_rgb = DepthToSpaceConcat(2, planes=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_rgb([torch.tanh(c(x)) * 0.5 + 0.5 for c in self.convs])


def test_targets_parse_and_typos_fail():
    assert parse_targets("htp,gpu") == ["htp:SM8450", "gpu"]
    assert parse_targets("htp:sm8650,htp:SM8350,mediatek") == ["htp:SM8650", "htp:SM8350", "mediatek"]
    with pytest.raises(IsplabError, match="SM8450"):
        parse_targets("htp:SM9999")
    with pytest.raises(IsplabError, match="htp"):
        parse_targets("npu")


def test_without_toolchains_nothing_passes_silently(tmp_path, shared_file):
    report = check_tflite(shared_file(*JMU), "htp,gpu,mediatek", (128, 160), chains=Toolchains.load(tmp_path))
    failures = report.failures()
    assert len(failures) == 3 and all("NOT CHECKED" in f for f in failures)
    assert "isplab accel setup" in failures[0] and "MediaTek" in failures[2]
    assert report.cells() == {"HTP compiled": "not checked", "HTP parity": "not checked", "GPU": "not checked",
                              "GPU parity": "not checked"}


def test_official_microisp_compiles_fully_and_is_miscomputed_on_the_htp(toolchains, shared_file):
    report = check_tflite(shared_file(*MICROISP), "htp,gpu", TILE, chains=toolchains)
    htp = report.htp[0]
    assert (htp.ops_offloaded, htp.ops_total, htp.partitions) == (298, 298, 1) and htp.fully_compiled
    assert htp.parity[0].max_abs > 0.5 and not htp.passed  # the DepthToSpace -> Concat miscompute
    assert report.failures() == ["HTP SM8450: wrong outputs on the simulator"]
    gpu = report.gpu
    assert gpu.fully_accelerated and gpu.fallback == [] and gpu.passed
    assert [p.precision for p in gpu.parity] == ["fp16", "fp32"] and gpu.parity[1].max_abs < 1e-5


def test_isplab_export_of_the_official_weights_runs_right_on_the_htp(toolchains, shared_file):
    model = load_tflite_model("microisp", shared_file(*MICROISP))
    report = check_model(model, "microisp", "htp", TILE, int8=False, chains=toolchains)
    htp = report.htp[0]
    assert htp.fully_compiled and htp.passed and htp.parity[0].max_abs <= 1e-2, report.render()


def test_jmu_cvlab_file_falls_back_on_the_gpu(toolchains, shared_file):
    report = check_tflite(shared_file(*JMU), "gpu", (128, 160), chains=toolchains)
    gpu = report.gpu
    assert not gpu.fully_accelerated and gpu.cpu_ops == 5
    assert any(line.startswith("STRIDED_SLICE") and "shrink_axis_mask" in line for line in gpu.fallback)
    assert gpu.passed and report.failures() == [] and "STRIDED_SLICE" in report.failures(strict=True)[0]


def test_the_pattern_alone_fails_and_the_rewrite_fixes_it_fp16_and_int8(toolchains):
    plain = check_model(PlanesHead(), "planes", "htp", (32, 48), int8=False, optimize=False, chains=toolchains)
    assert not plain.htp[0].passed and plain.htp[0].parity[0].max_abs > 0.1, plain.render()  # 0.30 measured
    fixed = check_model(PlanesHead(), "planes", "htp", (32, 48), int8=True, chains=toolchains)
    assert [p.precision for p in fixed.htp[0].parity] == ["fp16", "int8"]
    assert fixed.htp[0].passed and fixed.failures() == [], fixed.render()


def test_export_with_accel_fails_on_a_miscompute_and_writes_nothing(toolchains, tmp_path):
    out = tmp_path / "m.tflite"
    with pytest.raises(ExportError, match="wrong outputs"):
        export_tflite(PlanesHead(), out, input_size=(32, 48), optimize=False,
                      accel_check=export_check(PlanesHead(), None, "htp", (32, 48), optimize=False))
    assert not out.exists()
    head = PlanesHead()
    report = export_tflite(head, out, input_size=(32, 48), accel_check=export_check(head, None, "htp,gpu", (32, 48)))
    assert out.is_file() and report.accel.failures() == []
    text = report.render()
    assert "HTP SM8450: fully compiled" in text and "mobile-GPU audit" not in text  # the runtime replaces the table
