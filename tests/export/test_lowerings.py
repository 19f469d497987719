"""isplab's custom ops through litert-torch (isplab.export.lowerings): DEPTH_TO_SPACE and PRELU builtins, laid
out NHWC so no TRANSPOSE appears around them, with the eager values."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from torch import nn

from isplab.export import lowerings
from isplab.export.convert import convert_float
from isplab.export.flatbuffer import read_graph
from isplab.models.ops import DepthToSpace, _depth_to_space_nchw, depth_to_space
from isplab.runtime.litert import run_tflite


class _ConvShuffle(nn.Module):
    def __init__(self, act: nn.Module | None = None):
        super().__init__()
        self.conv, self.act, self.d2s = nn.Conv2d(4, 12, 3, padding=1), act or nn.Identity(), DepthToSpace(2)

    def forward(self, x):
        return self.d2s(self.act(self.conv(x)))


def _run(model: nn.Module, size=(8, 12)) -> tuple[Counter, np.ndarray, np.ndarray]:
    data = convert_float(model.eval(), size)
    x = np.random.default_rng(0).random((4, *size), dtype=np.float32)
    with torch.no_grad():
        eager = model(torch.from_numpy(x)[None]).permute(0, 2, 3, 1).numpy()
    ops = Counter(op.name for op in read_graph(data).ops)
    return ops, run_tflite(data, [x.transpose(1, 2, 0)[None]])[0], eager


def test_registration_is_idempotent():
    lowerings.register_lowerings()
    lowerings.register_lowerings()
    assert lowerings._registered


def test_depth_to_space_lowers_to_one_builtin():
    ops, lite, eager = _run(_ConvShuffle())
    assert ops == Counter({"CONV_2D": 1, "DEPTH_TO_SPACE": 1}), ops
    np.testing.assert_allclose(lite, eager, atol=1e-6)


def test_depth_to_space_options_carry_the_block_size():
    g = read_graph(convert_float(nn.Sequential(nn.Conv2d(4, 48, 1), DepthToSpace(4)).eval(), (4, 4)))
    (op,) = [op for op in g.ops if op.name == "DEPTH_TO_SPACE"]
    assert op.options.blockSize == 4
    assert g.tensors[op.outputs[0]].shape == (1, 16, 16, 3)


def test_prelu_lowers_to_per_channel_prelu_without_transposes():
    act = nn.PReLU(12)
    act.weight.data = torch.linspace(-0.5, 0.5, 12)
    ops, lite, eager = _run(_ConvShuffle(act))
    assert ops == Counter({"CONV_2D": 1, "PRELU": 1, "DEPTH_TO_SPACE": 1}), ops
    np.testing.assert_allclose(lite, eager, atol=1e-6)


def test_depth_to_space_is_tf_dcr_order_in_eager_and_export():
    x = torch.arange(2 * 12 * 3 * 5, dtype=torch.float32).reshape(2, 12, 3, 5)
    eager = depth_to_space(x, 2)
    # DCR: input channel (by * 2 + bx) * C_out + c lands at (2y + by, 2x + bx), channel c
    for by in range(2):
        for bx in range(2):
            assert torch.equal(eager[:, :, by::2, bx::2], x[:, (by * 2 + bx) * 3:(by * 2 + bx + 1) * 3])
    exported = torch.export.export(DepthToSpace(2), (x,)).module()
    assert torch.equal(exported(x), eager)
    assert torch.equal(eager, _depth_to_space_nchw(x, 2))


def test_depth_to_space_keeps_gradients_in_eager():
    x = torch.rand(1, 12, 4, 4, requires_grad=True)
    depth_to_space(x).sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
