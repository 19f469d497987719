"""The one LiteRT runner (isplab.runtime.litert): run, resize once per shape, int8 ends, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from isplab.runtime.litert import LiteRTError, LiteRTModel, from_tensor_dtype, run_tflite, to_tensor_dtype


class _Nhwc(nn.Module):
    """NHWC [1,H,W,4] -> NHWC [1,H,W,12] around one 3x3 conv (the exported-file convention)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(4, 12, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    import litert_torch

    module = _Nhwc().eval()
    path = tmp_path_factory.mktemp("litert") / "tiny.tflite"
    litert_torch.convert(module, (torch.rand(1, 8, 8, 4),)).export(str(path))
    return path, module


def _torch(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def test_runs_and_resizes_only_when_the_shape_changes(tiny, monkeypatch):
    path, module = tiny
    model = LiteRTModel(path, num_threads=1)
    assert model.file_shape == (1, 8, 8, 4) and not model.dynamic and model.op_counts == {"CONV_2D": 1}
    allocations = []
    real = model.interpreter.allocate_tensors
    monkeypatch.setattr(model.interpreter, "allocate_tensors", lambda: allocations.append(1) or real())
    rng = np.random.default_rng(0)
    for shape in [(1, 8, 8, 4), (1, 8, 8, 4), (1, 16, 24, 4), (1, 16, 24, 4), (1, 8, 8, 4)]:
        x = rng.random(shape, dtype=np.float32)
        y = model(x)
        assert y.dtype == np.float32 and y.shape == (*shape[:3], 12)
        np.testing.assert_allclose(y, _torch(module, x), atol=1e-5)
    assert len(allocations) == 3 and model.output_shape == (1, 8, 8, 12)


def test_outputs_survive_the_next_run(tiny):
    model = LiteRTModel(tiny[0])
    a = model(np.zeros((1, 8, 8, 4), np.float32))
    first = a.copy()
    model(np.ones((1, 8, 8, 4), np.float32))
    np.testing.assert_array_equal(a, first)


def test_run_view_is_a_read_only_view_valid_until_the_next_run(tiny):
    path, module = tiny
    model = LiteRTModel(path, num_threads=1)
    x = np.random.default_rng(2).random((1, 4, 8, 8), dtype=np.float32)
    view = model.run_view(x.transpose(0, 2, 3, 1))  # strided input: written straight into the buffer
    assert not view.flags.writeable and not view.flags.owndata
    np.testing.assert_allclose(view, _torch(module, x.transpose(0, 2, 3, 1)), atol=1e-5)
    with pytest.raises(LiteRTError, match="still referenced; copy it"):  # LiteRT refuses to overwrite a live view
        model.run_view(x[:, :, ::-1].transpose(0, 2, 3, 1))
    with pytest.raises(LiteRTError, match="still referenced; copy it"):  # ... or to reallocate under it
        model.run_view(np.zeros((1, 16, 16, 4), np.float32))
    first = view.copy()
    del view
    assert model.run_view(x.transpose(0, 2, 3, 1)).tobytes() == first.tobytes()
    np.testing.assert_array_equal(first, model(np.ascontiguousarray(x.transpose(0, 2, 3, 1))))


def test_bytes_and_run_tflite(tiny):
    path, module = tiny
    x = np.random.default_rng(1).random((1, 8, 8, 4), dtype=np.float32)
    (y,) = run_tflite(path.read_bytes(), [x])
    np.testing.assert_allclose(y, _torch(module, x), atol=1e-5)
    assert LiteRTModel(path.read_bytes()).name == "<model bytes>"


def test_int8_ends_are_quantized_and_dequantized():
    detail = {"dtype": np.int8, "quantization": (0.5, -3)}
    q = to_tensor_dtype(np.array([-100.0, 0.0, 1.2, 100.0]), detail)
    assert q.dtype == np.int8 and q.tolist() == [-128, -3, -1, 127]
    np.testing.assert_allclose(from_tensor_dtype(q, detail), [-62.5, 0.0, 1.0, 65.0])
    f = np.ones(3, np.float32)
    assert to_tensor_dtype(f, {"dtype": np.float32}) is f


def test_errors_name_the_file_and_the_fix(tiny, tmp_path):
    with pytest.raises(LiteRTError, match="nope.tflite: no such .tflite file"):
        LiteRTModel(tmp_path / "nope.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(LiteRTError, match="bad.tflite: the TFLite runtime cannot load"):
        LiteRTModel(bad)
    with pytest.raises(LiteRTError, match=r"cannot run at input \[1, 8, 8, 5\]"):
        LiteRTModel(tiny[0])(np.zeros((1, 8, 8, 5), np.float32))
