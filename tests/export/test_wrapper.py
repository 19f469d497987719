"""The converted module (isplab.export.wrapper): NHWC named I/O, nn.PReLU as one TFLite PRELU."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch import nn

from isplab.export.convert import export_tflite
from isplab.export.wrapper import ExportPReLU, ExportWrapper, with_export_modules
from isplab.models import create_model
from isplab.models.ops import DepthToSpace

SIZE = (96, 128)  # MicroISP's attention branch needs >= 79x79 packed


def random_slopes(model: nn.Module) -> nn.Module:
    """Non-zero, mixed-sign PReLU slopes (fresh MicroISP slopes are 0, which would hide slope errors)."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.PReLU):
            m.weight.data = torch.rand(m.weight.shape, generator=gen) - 0.5
    return model


@pytest.fixture(scope="module")
def microisp() -> nn.Module:
    torch.manual_seed(0)
    return random_slopes(create_model("microisp")).eval()


@pytest.fixture(scope="module")
def plain_export(microisp, tmp_path_factory):
    """MicroISP as written (the optimiser off), so the graph shows the wrapper's own lowering."""
    path = tmp_path_factory.mktemp("microisp") / "microisp.tflite"
    return export_tflite(microisp, path, input_size=SIZE, optimize=False)


def test_prelu_exports_as_tflite_prelu_with_parity(plain_export, microisp):
    g = plain_export.audit.graph
    ops = Counter(op.name for op in g.ops)
    n_prelu = sum(isinstance(m, nn.PReLU) for m in microisp.modules())
    assert ops["PRELU"] == n_prelu
    assert ops["RELU"] == 0  # no RELU + SUB + 2 MUL decompositions left
    # depth-to-space runs NHWC, so the colour branches concatenate without a full-resolution TRANSPOSE
    assert ops["DEPTH_TO_SPACE"] == 3 and ops["TRANSPOSE"] == 0 and ops["RESHAPE"] == 0, ops
    assert plain_export.parity.passed and plain_export.parity.max_abs <= 1e-4
    assert plain_export.audit.clean, plain_export.audit.render()
    assert plain_export.rewrites == []
    for op in g.ops:
        if op.name == "PRELU":  # per-channel constant alpha (1, 1, C), as the GPU delegate wants
            alpha, x = g.tensors[op.inputs[1]], g.tensors[op.inputs[0]]
            assert alpha.is_constant and alpha.shape == (1, 1, x.shape[-1])


def test_export_prelu_is_eager_identical_and_leaves_the_model_alone(microisp):
    swapped = with_export_modules(microisp)
    assert swapped is not microisp
    assert not any(isinstance(m, ExportPReLU) for m in microisp.modules())
    assert not any(isinstance(m, nn.PReLU) for m in swapped.modules())
    x = torch.rand(1, 4, *SIZE)
    with torch.no_grad():
        torch.testing.assert_close(swapped(x), microisp(x), rtol=0, atol=0)
    shared = nn.PReLU(1, init=-0.3)  # one shared slope is broadcast per channel under export
    y = torch.randn(1, 3, 5, 7)
    torch.testing.assert_close(ExportPReLU(shared)(y), shared(y), rtol=0, atol=0)
    plain = nn.Conv2d(4, 12, 1)
    assert ExportWrapper(plain).model is plain  # nothing to swap: no copy


class _GatedPReLU(nn.Module):
    """conv -> shared-slope PReLU -> x * mean(x) gate -> depth_to_space: the PReLU sits between NHWC ops."""

    def __init__(self):
        super().__init__()
        self.conv, self.act, self.d2s = nn.Conv2d(4, 12, 3, padding=1), nn.PReLU(1, init=-0.3), DepthToSpace(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.conv(x))
        return self.d2s(y * y.mean(dim=(2, 3), keepdim=True))


def test_shared_slope_prelu_exports_as_per_channel_prelu_without_transposes(tmp_path):
    report = export_tflite(_GatedPReLU().eval(), tmp_path / "p.tflite", input_size=(16, 24))
    ops = Counter(op.name for op in report.audit.graph.ops)
    assert ops["PRELU"] == 1 and ops["TRANSPOSE"] == 0, ops  # the PReLU stays in the NHWC layout
    assert report.parity.passed and report.parity.max_abs <= 1e-4


def test_int8_keeps_prelu_decomposed_so_it_stays_integer(microisp, tmp_path):
    # ai-edge-quantizer cannot quantize PRELU; a native one would run float between QUANTIZE/DEQUANTIZE.
    rng = np.random.default_rng(1)
    calib = [rng.random((4, *SIZE), dtype=np.float32) for _ in range(3)]
    report = export_tflite(microisp, tmp_path / "int8.tflite", input_size=SIZE, precision="int8",
                           calibration=calib)
    ops = Counter(op.name for op in report.audit.graph.ops)
    assert ops["PRELU"] == 0 and ops["DEQUANTIZE"] <= 1, ops  # only the float output
    assert all(not t.name.startswith("isplab") for t in report.audit.graph.tensors)
