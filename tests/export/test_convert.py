"""TFLite export end to end: fp32/fp16/int8 files, I/O conventions, model handling and atomic writes.

Conversions are slow (seconds each), so exports are shared through module-scoped fixtures at a tiny
32x48 packed input.
"""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest
import torch
from torch import nn

from isplab.cli import main
from isplab.errors import IsplabError
from isplab.export import convert as convert_mod
from isplab.export.convert import ExportError, export_tflite
from isplab.export.flatbuffer import read_graph
from isplab.export.parity import ParityBudget, ParityError, run_torch
from isplab.models.ops import depth_to_space
from isplab.runtime.litert import run_tflite

SIZE = (32, 48)


@pytest.fixture(scope="module")
def calib() -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.random((4, 40, 56), dtype=np.float32) for _ in range(6)]


@pytest.fixture(scope="module")
def fp32_export(smallnet, tmp_path_factory):
    path = tmp_path_factory.mktemp("fp32") / "smallnet.tflite"
    return export_tflite(smallnet, path, input_size=SIZE)


@pytest.fixture(scope="module")
def fp16_export(smallnet, tmp_path_factory):
    path = tmp_path_factory.mktemp("fp16") / "smallnet_fp16.tflite"
    return export_tflite(smallnet, path, input_size=SIZE, precision="fp16")


@pytest.fixture(scope="module")
def int8_export(smallnet, calib, tmp_path_factory):
    rng = np.random.default_rng(2)
    pairs = [(rng.random((4, 32, 48), dtype=np.float32), rng.random((3, 64, 96), dtype=np.float32))
             for _ in range(2)]
    path = tmp_path_factory.mktemp("int8") / "smallnet_int8.tflite"
    return export_tflite(smallnet, path, input_size=SIZE, precision="int8", calibration=calib,
                         parity_inputs=pairs)


# ---- fp32 -------------------------------------------------------------------------------------------


def test_fp32_export_passes_parity_with_named_nhwc_io(fp32_export):
    r = fp32_export
    assert r.path.is_file() and r.path.stat().st_size == r.size_bytes
    assert r.parity.passed and r.parity.max_abs <= 1e-4
    assert r.input_shape == (1, 32, 48, 4) and r.output_shape == (1, 64, 96, 3)
    g = read_graph(r.path)
    assert list(g.input_names) == ["raw"] and list(g.output_names) == ["rgb"]
    assert [g.tensors[i].dtype for i in (*g.inputs, *g.outputs)] == ["FLOAT32", "FLOAT32"]
    assert not list(r.path.parent.glob(".*.tmp"))


def test_export_has_one_depth_to_space_and_no_tensor_above_rank_4(fp32_export):
    g = read_graph(fp32_export.path)
    names = [op.name for op in g.ops]
    assert names.count("DEPTH_TO_SPACE") == 1
    assert "TRANSPOSE" not in names and "RESHAPE" not in names
    assert max(t.rank for t in g.tensors) <= 4
    assert fp32_export.audit.clean


def test_corrupted_weight_is_caught_and_no_file_is_left(smallnet, tmp_path, monkeypatch, tamper_conv_weight):
    real = convert_mod.convert_float
    monkeypatch.setattr(convert_mod, "convert_float", lambda *a, **k: tamper_conv_weight(real(*a, **k)))
    out = tmp_path / "broken.tflite"
    with pytest.raises(ParityError, match="max-abs"):
        export_tflite(smallnet, out, input_size=SIZE)
    assert list(tmp_path.iterdir()) == []


# ---- fp16 / int8 ------------------------------------------------------------------------------------


def test_fp16_export_stores_half_weights_within_budget(fp16_export, fp32_export):
    r = fp16_export
    assert r.parity.passed and r.parity.target_loss is None
    assert r.parity.psnr_vs_torch >= ParityBudget().min_psnr_vs_torch("fp16")
    g = read_graph(r.path)
    assert any(t.dtype == "FLOAT16" and t.is_constant for t in g.tensors)
    assert r.size_bytes < fp32_export.size_bytes
    assert r.audit.clean


def test_int8_export_is_full_integer_with_float_io(int8_export):
    r = int8_export
    assert r.parity.passed and r.parity.target_loss is not None and r.parity.target_loss <= 1.0
    g = read_graph(r.path)
    names = [op.name for op in g.ops]
    assert names[0] == "QUANTIZE" and names[-1] == "DEQUANTIZE"
    assert names.count("QUANTIZE") == 1 and names.count("DEQUANTIZE") == 1
    d2s = next(op for op in g.ops if op.name == "DEPTH_TO_SPACE")
    assert g.tensors[d2s.inputs[0]].dtype == g.tensors[d2s.outputs[0]].dtype == "INT8"
    assert [g.tensors[i].dtype for i in (*g.inputs, *g.outputs)] == ["FLOAT32", "FLOAT32"]
    assert r.audit.clean


def test_int8_io_export(smallnet, calib, tmp_path):
    r = export_tflite(smallnet, tmp_path / "io8.tflite", input_size=SIZE, precision="int8", calibration=calib,
                      int8_io=True)
    g = read_graph(r.path)
    assert [g.tensors[i].dtype for i in (*g.inputs, *g.outputs)] == ["INT8", "INT8"]
    assert "QUANTIZE" not in [op.name for op in g.ops]
    assert r.parity.passed and any("INT8" in n for n in r.audit.notes)


def test_int8_without_calibration_is_refused(smallnet, tmp_path):
    with pytest.raises(IsplabError, match="calibration"):
        export_tflite(smallnet, tmp_path / "x.tflite", input_size=SIZE, precision="int8")
    assert list(tmp_path.iterdir()) == []


def test_tight_budget_fails_quantized_export(smallnet, tmp_path):
    with pytest.raises(ParityError, match="PSNR"):
        export_tflite(smallnet, tmp_path / "x.tflite", input_size=SIZE, precision="fp16",
                      budget=ParityBudget(reference_psnr=200.0))
    assert list(tmp_path.iterdir()) == []


# ---- model handling ---------------------------------------------------------------------------------


class _TwoLevel(nn.Module):
    """Returns (coarse, fine) like PyNET-style multi-level models."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 12, 3, padding=1)

    def forward(self, x):
        fine = depth_to_space(torch.sigmoid(self.conv(x)), 2)
        return fine[:, :, ::2, ::2] * 0.5, fine


class _Branches(nn.Module):
    """Two parallel convs; ``reparameterize()`` fuses them into one (like the training-time blocks)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(4, 12, 3, padding=1), nn.Conv2d(4, 12, 3, padding=1)
        self.fused: nn.Conv2d | None = None

    def reparameterize(self):
        self.fused = nn.Conv2d(4, 12, 3, padding=1)
        self.fused.weight.data = self.a.weight.data + self.b.weight.data
        self.fused.bias.data = self.a.bias.data + self.b.bias.data

    def forward(self, x):
        y = self.fused(x) if self.fused is not None else self.a(x) + self.b(x)
        return depth_to_space(y, 2)


def test_multi_level_model_exports_its_finest_output(tmp_path):
    r = export_tflite(_TwoLevel(), tmp_path / "two.tflite", input_size=SIZE)
    assert r.output_shape == (1, 64, 96, 3) and r.parity.passed


def test_export_reparameterizes_a_copy(tmp_path):
    model = _Branches().train()
    r = export_tflite(model, tmp_path / "rep.tflite", input_size=SIZE)
    assert model.fused is None and model.training  # the caller's model is untouched
    assert [op.name for op in read_graph(r.path).ops] == ["CONV_2D", "DEPTH_TO_SPACE"]
    assert r.parity.passed


def test_dynamic_export_runs_at_other_sizes(smallnet, tmp_path):
    r = export_tflite(smallnet, tmp_path / "dyn.tflite", input_size=SIZE, dynamic=True)
    assert r.input_shape == (1, -1, -1, 4) and r.output_shape == (1, -1, -1, 3)
    assert any(s.name.startswith("synthetic-16x") for s in r.parity.samples)
    x = np.random.default_rng(0).random((4, 20, 36), dtype=np.float32)
    y = run_tflite(r.path, [x.transpose(1, 2, 0)[None]])[0]
    assert y.shape == (1, 40, 72, 3) and np.abs(y - run_torch(smallnet, x)).max() <= 1e-4


def test_unconvertible_model_is_a_clear_error(tmp_path):
    class DataDependent(nn.Module):
        def forward(self, x):
            if x.mean() > 0.5:  # Python control flow on a tensor value
                return depth_to_space(x.repeat(1, 3, 1, 1), 2)
            return depth_to_space(x.repeat(1, 3, 1, 1), 2) * 2

    with pytest.raises(ExportError, match="litert-torch could not convert"):
        export_tflite(DataDependent(), tmp_path / "x.tflite", input_size=SIZE)
    assert list(tmp_path.iterdir()) == []


def test_parity_report_renders(fp32_export):
    text = fp32_export.render()
    assert "parity (fp32): PASS" in text and "mobile-GPU audit" in text and "rgb [1, 64, 96, 3]" in text





# ---- output paths -----------------------------------------------------------------------------------


def test_exported_file_gets_the_usual_mode_not_0600(fp32_export):
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fp32_export.path.stat().st_mode) == 0o666 & ~umask  # 0644 under umask 022


@pytest.fixture
def no_conversion(monkeypatch, raising):
    """Conversion raises AssertionError: a test that reaches it did work before its error."""
    monkeypatch.setattr(convert_mod, "convert_float", raising(AssertionError("converted before the path check")))


def test_bad_out_paths_fail_before_conversion(smallnet, tmp_path, read_only_dir, no_conversion):
    (tmp_path / "afile").write_text("x")
    for out, expected in ((tmp_path, "is a folder, not a file"), (tmp_path / "afile" / "m.tflite", "is a file"),
                          (read_only_dir / "m.tflite", "is not writable")):
        with pytest.raises(IsplabError, match=expected):
            export_tflite(smallnet, out, input_size=SIZE)


def test_missing_out_folder_is_created(smallnet, tmp_path, no_conversion):
    with pytest.raises(AssertionError):  # got past the path check to the conversion
        export_tflite(smallnet, tmp_path / "new" / "dir" / "m.tflite", input_size=SIZE)
    assert (tmp_path / "new" / "dir").is_dir()


@pytest.mark.parametrize(("options", "expected"), [
    (["--fp16-budget", "0"], "--fp16-budget 0.0: a parity budget must be > 0"),
    (["--int8-budget", "-1"], "--int8-budget -1.0: a parity budget must be > 0"),
    (["--fp32-tol", "0"], "--fp32-tol 0.0: a parity budget must be > 0"),
    (["--parity-raw", "shot.png", "--cfa", "XYZW"], "--cfa XYZW: unknown Bayer phase"),
    (["--out", "{tmp}"], "is a folder, not a file"),
    (["--out", "{tmp}/afile/m.tflite"], "is a file"),
])
def test_cli_checks_options_and_out_before_loading_the_model(tmp_path, monkeypatch, capsys, raising, options,
                                                             expected):
    import isplab.export.sources as sources

    monkeypatch.setattr(sources, "load_export_model", raising(AssertionError("loaded before the checks")))
    (tmp_path / "afile").write_text("x")
    argv = ["export", "--model", "smallnet", "--out", str(tmp_path / "m.tflite"), *options]
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err


def test_cli_removes_stale_temp_files_beside_the_model(tmp_path, monkeypatch, raising, stale_temp):
    import isplab.export.sources as sources

    stale = stale_temp(tmp_path, "m.tflite")  # left by an interrupted earlier export
    monkeypatch.setattr(sources, "load_export_model", raising(IsplabError("stop")))
    assert main(["export", "--model", "smallnet", "--out", str(tmp_path / "m.tflite")]) == 2
    assert not stale.exists()
