"""Mobile-GPU audit rules, ``isplab inspect`` and the ``export`` / ``inspect`` CLI exit codes."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from isplab.cli import main
from isplab.export.audit import FAIL, FALLBACK, OK, audit_graph, audit_tflite, check_op
from isplab.export.convert import ExportError, export_tflite
from isplab.export.flatbuffer import Graph, Op, Tensor
from isplab.export.tflite_info import inspect_tflite
from isplab.models import count_parameters, create_model
from isplab.models.ops import _depth_to_space_nchw
from isplab.runtime.tflite_metadata import RAW_DOMAIN, add_metadata

SIZE = (32, 48)


class _Rank6Shuffle(nn.Module):
    """Depth-to-space as a rank-6 reshape/permute: what a naive pixel shuffle lowers to."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 12, 3, padding=1)

    def forward(self, x):
        return _depth_to_space_nchw(self.conv(x), 2)


class _TorchPixelShuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.shuffle = nn.Conv2d(4, 12, 3, padding=1), nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.conv(x))


@pytest.fixture(scope="module")
def rank6_export(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("r6") / "rank6.tflite"
    return export_tflite(_Rank6Shuffle().eval(), path, input_size=SIZE)


@pytest.fixture(scope="module")
def smallnet_file(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("smallnet").eval()
    path = tmp_path_factory.mktemp("sn") / "smallnet.tflite"
    export_tflite(model, path, input_size=SIZE)
    return path, model


# ---- exported graphs --------------------------------------------------------------------------------


def test_audit_flags_rank6_transpose(rank6_export):
    report = audit_tflite(rank6_export.path)
    assert not report.clean and report.max_rank == 6
    flagged = {r.op for r in report.problems}
    assert {"TRANSPOSE", "RESHAPE"} <= flagged
    assert all(r.verdict == FALLBACK and "rank-6" in r.reason for r in report.problems)
    assert "cpu-fallback" in report.render()


def test_torch_pixel_shuffle_is_rank4_but_noted(tmp_path):
    # litert-torch 0.10 decomposes nn.PixelShuffle with rank-4 reshapes/transposes: it runs on the GPU
    # delegate, but as data movement the audit points at depth_to_space instead
    r = export_tflite(_TorchPixelShuffle().eval(), tmp_path / "ps.tflite", input_size=SIZE)
    assert r.audit.max_rank <= 4 and "DEPTH_TO_SPACE" not in r.audit.histogram()
    assert any("TRANSPOSE/RESHAPE" in n for n in r.audit.notes)


def test_strict_export_refuses_gpu_problems_and_leaves_no_file(tmp_path):
    with pytest.raises(ExportError, match="mobile GPU"):
        export_tflite(_Rank6Shuffle().eval(), tmp_path / "x.tflite", input_size=SIZE,
                      strict=True)
    assert list(tmp_path.iterdir()) == []


def test_inspect_reports_io_params_macs_and_audit(smallnet_file):
    path, model = smallnet_file
    info = inspect_tflite(path)
    assert info.input_names == ["raw"] and info.output_names == ["rgb"]
    assert info.inputs[0].shape == (1, 32, 48, 4) and info.outputs[0].shape == (1, 64, 96, 3)
    assert info.inputs[0].dtype == "FLOAT32"
    assert info.op_histogram == {"CONV_2D": 3, "TANH": 1, "DEPTH_TO_SPACE": 1}
    assert info.parameters == count_parameters(model)
    # 3x3 convs at 32x48: 4->16, 16->16, 16->12
    assert info.macs == 32 * 48 * 9 * (4 * 16 + 16 * 16 + 16 * 12) and info.flops == 2 * info.macs
    assert info.size_bytes == path.stat().st_size and info.audit.clean
    text = info.render()
    for field in ("input  'raw'", "output 'rgb'", "parameters 4,652", "MACs", "CONV_2D x3", "GPU-clean",
                  "raw domain: none stored"):
        assert field in text
    tagged = add_metadata(path.read_bytes(), {RAW_DOMAIN: b'{"camera": "sensor X"}'})
    assert inspect_tflite(tagged).raw_domain == "sensor X" and "raw domain: sensor X" in inspect_tflite(tagged).render()


# ---- rules on hand-built graphs ---------------------------------------------------------------------


def _t(i, shape, dtype="FLOAT32", const=False):
    return Tensor(i, f"t{i}", tuple(shape), tuple(shape), dtype, const)


def _graph(ops, tensors):
    return Graph(tuple(ops), tuple(tensors), (0,), (len(tensors) - 1,), {}, {}, 0)


@pytest.mark.parametrize(("a", "b", "verdict"), [
    ((1, 8, 8, 16), (1, 8, 8, 16), OK),
    ((1, 8, 8, 16), (16,), OK),               # per-channel vector
    ((1, 8, 8, 16), (8, 8, 16), OK),          # 3-D onto 4-D, batch 1
    ((1, 8, 8, 16), (1, 16), OK),             # [b, c] onto [b, h, w, c]
    ((1, 8, 8, 16), (8, 16), FALLBACK),       # [h, c] is not a supported broadcast
    ((1, 1, 8, 16), (1, 8, 1, 16), FALLBACK),  # MUL: neither operand covers the other
])
def test_mul_broadcast_rules(a, b, verdict):
    tensors = [_t(0, a), _t(1, b), _t(2, a)]
    g = _graph([Op(0, "MUL", False, (0, 1), (2,))], tensors)
    assert check_op(g, g.ops[0])[0] == verdict


def test_op_verdicts():
    x, y = _t(0, (1, 8, 8, 4)), _t(1, (1, 8, 8, 4))
    conv_opts = SimpleNamespace(fusedActivationFunction=5)  # SIGN_BIT
    cases = {
        Op(0, "CONV_2D", False, (0, 2), (1,), conv_opts): FALLBACK,
        Op(0, "GATHER_ND", False, (0,), (1,)): FALLBACK,
        Op(0, "FlexConv2D", True, (0,), (1,)): FAIL,
        Op(0, "MyOp", True, (0,), (1,)): FAIL,
        Op(0, "STABLEHLO_IOTA", False, (), (1,)): FAIL,
        Op(0, "DEPTH_TO_SPACE", False, (0,), (1,), SimpleNamespace(blockSize=2)): OK,
        Op(0, "RELU_0_TO_1", False, (0,), (1,)): FALLBACK,
        Op(0, "TANH", False, (0,), (1,)): OK,
    }
    g = _graph([], [x, y, _t(2, (4, 3, 3, 4), const=True)])
    for op, verdict in cases.items():
        assert check_op(g, op)[0] == verdict, op.name


def test_int64_runtime_tensor_and_model_issues():
    tensors = [_t(0, (1, 8), "INT64"), _t(1, (1, 8), "INT64")]
    g = Graph((Op(0, "RELU", False, (0,), (1,)),), tuple(tensors), (0, 1), (1,), {}, {}, 0)
    report = audit_graph(g)
    assert report.rows[0].verdict == FALLBACK and "INT64" in report.rows[0].reason
    assert report.issues and not report.clean


# ---- CLI --------------------------------------------------------------------------------------------


def test_cli_inspect_exit_codes(smallnet_file, rank6_export, capsys):
    assert main(["inspect", str(smallnet_file[0])]) == 0
    assert "DEPTH_TO_SPACE" in capsys.readouterr().out
    assert main(["inspect", str(rank6_export.path), "--strict"]) == 1
    assert main(["inspect", str(rank6_export.path)]) == 0
    assert main(["inspect", "/nonexistent/model.tflite"]) == 2


def test_cli_export(tmp_path, capsys):
    out = tmp_path / "m.tflite"
    assert main(["export", "--model", "smallnet", "--out", str(out), "--input-size", "32x48"]) == 0
    assert out.is_file() and "parity (fp32): PASS" in capsys.readouterr().out


def test_cli_export_errors(tmp_path, capsys):
    out = str(tmp_path / "m.tflite")
    assert main(["export", "--out", out]) == 2
    assert main(["export", "--model", "smallnet", "--out", out, "--precision", "int8"]) == 2
    assert main(["export", "--weights", str(tmp_path / "missing.pt"), "--out", out]) == 2
    assert main(["export", "--model", "smallnet", "--out", out, "--int8-io"]) == 2
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["export", "--model", "smallnet", "--out", out, "--input-size", "big"])
    assert list(tmp_path.iterdir()) == []


def test_cli_export_from_checkpoint(tmp_path):
    from isplab.models.weights import model_checkpoint, save_checkpoint

    torch.manual_seed(3)
    model = create_model("smallnet", channels=8)
    ckpt = save_checkpoint(tmp_path / "c.pt", model_checkpoint("smallnet", {"channels": 8}, model))
    out = tmp_path / "c.tflite"
    assert main(["export", "--weights", str(ckpt), "--out", str(out), "--input-size", "32x48",
                 "--precision", "fp16"]) == 0
    assert inspect_tflite(out).parameters == count_parameters(model)


def test_cli_int8_export_with_dataset(tmp_path, capsys):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    (root / "mediatek_raw").mkdir(parents=True)
    (root / "fujifilm").mkdir()
    for i in range(4):
        raw = rng.integers(0, 1021, (256, 256), dtype=np.uint16)
        Image.fromarray(raw).save(root / "mediatek_raw" / f"{i}.png")
        rgb = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
        Image.fromarray(rgb).save(root / "fujifilm" / f"{i}.png")
    out = tmp_path / "q.tflite"
    assert main(["export", "--model", "smallnet", "--out", str(out), "--input-size", "32x48",
                 "--precision", "int8", "--calib-data", str(root)]) == 0
    text = capsys.readouterr().out
    assert "parity (int8): PASS - PSNR loss vs target" in text and out.is_file()


def test_dynamic_pixel_shuffle_is_a_clear_error():
    from isplab.export.convert import convert_float

    with pytest.raises(ExportError, match="depth_to_space"):
        convert_float(_TorchPixelShuffle().eval(), SIZE, dynamic=True)
