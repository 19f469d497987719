"""The TFLite flatbuffer reader (isplab.export.flatbuffer): ops, tensors, constants, signature names."""

from __future__ import annotations

import pytest
import torch

from isplab.errors import IsplabError
from isplab.export.convert import convert_float
from isplab.export.flatbuffer import read_graph


@pytest.fixture(scope="module")
def data(smallnet) -> bytes:
    return convert_float(smallnet, (8, 12))


def test_graph_records(data, smallnet):
    g = read_graph(data)
    assert [op.name for op in g.ops] == ["CONV_2D", "TANH", "CONV_2D", "CONV_2D", "DEPTH_TO_SPACE"]
    assert g.input_names == {"raw": g.inputs[0]} and g.output_names == {"rgb": g.outputs[0]}
    assert g.tensors[g.inputs[0]].shape == (1, 8, 12, 4) and g.tensors[g.outputs[0]].shape == (1, 16, 24, 3)
    first = g.ops[0]
    weight = g.constant(first.inputs[1])  # TFLite OHWI
    torch.testing.assert_close(torch.from_numpy(weight).permute(0, 3, 1, 2), smallnet.conv1.weight.detach())
    assert g.producer(first.outputs[0]) is first and g.consumers(first.outputs[0]) == [g.ops[1]]
    assert [op.index for op in g.ancestors(g.outputs[0])] == [0, 1, 2, 3, 4]
    assert g.size_bytes == len(data) and g.source == "<model bytes>"


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(IsplabError, match="not a TFLite flatbuffer"):
        read_graph(b"\x00" * 16)
    with pytest.raises(IsplabError, match="no such .tflite file"):
        read_graph(tmp_path / "nope.tflite")
    g = read_graph(convert_float(torch.nn.Conv2d(4, 12, 1).eval(), (4, 4)))
    with pytest.raises(IsplabError, match="is not a constant"):
        g.constant(g.inputs[0])
