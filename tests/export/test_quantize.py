"""Post-training quantization (isplab.export.quantize): widened ranges, depth-to-space folded onto int8."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch
from torch import nn

from isplab.export.convert import export_tflite
from isplab.export.quantize import MIN_RANGE, widen_ranges
from isplab.models.ops import depth_to_space
from isplab.runtime.litert import LiteRTModel

SIZE = (16, 24)


def test_calibration_ranges_are_widened():
    out = widen_ranges({"dead": {"min": np.zeros(1, np.float32), "max": np.zeros(1, np.float32)},
                        "live": {"min": np.zeros(1, np.float32), "max": np.ones(1, np.float32)}})
    assert out["dead"]["max"][0] == np.float32(MIN_RANGE) and out["live"]["max"][0] == 1


class _TwoPlanes(nn.Module):
    """Two colour planes of different ranges, each depth-to-space'd, then concatenated (MicroISP's head)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 8, 3, padding=1)

    def forward(self, x):
        return torch.cat([depth_to_space(torch.tanh(self.a(x)), 2), depth_to_space(torch.sigmoid(self.b(x)) * 3, 2)],
                         dim=1)


def test_depth_to_space_runs_int8_and_concatenation_inputs_are_requantized(tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    calib = [rng.random((4, *SIZE), dtype=np.float32) for _ in range(4)]
    report = export_tflite(_TwoPlanes().eval(), tmp_path / "int8.tflite", input_size=SIZE, precision="int8",
                           calibration=calib)
    g = report.audit.graph
    ops = Counter(op.name for op in g.ops)
    assert ops["DEPTH_TO_SPACE"] == 2 and ops["DEQUANTIZE"] == 1, ops  # only the float graph output
    for op in g.ops:
        if op.name == "DEPTH_TO_SPACE":
            assert g.tensors[op.inputs[0]].dtype == g.tensors[op.outputs[0]].dtype == "INT8"
    (concat,) = [op for op in g.ops if op.name == "CONCATENATION"]
    params = {(g.tensors[i].scale, g.tensors[i].zero_point) for i in (*concat.inputs, *concat.outputs)}
    assert len(params) == 1  # XNNPACK's int8 concatenation needs one set of parameters
    assert report.parity.passed and report.audit.clean
    assert LiteRTModel(report.path)(np.zeros((1, *SIZE, 4), np.float32)).shape == (1, 32, 48, 3)
