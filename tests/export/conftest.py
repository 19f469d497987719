"""Fixtures for the export tests: the shared real raw frames with their formats, and a weight tamperer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from isplab.models import create_model
from isplab.raw.readers import RawImage, read_raw

#: The shared real frames and what their file names do not say (see ``shared/data/real-raw/README.md``).
REAL_FRAMES = {
    "fast-openisp-test-1920x1080-rggb-10bit.raw": {"width": 1920, "height": 1080, "cfa": "RGGB", "white": 1020},
    "halide-bayer_small.png": {"cfa": "GRBG", "white": 1023},
}


@pytest.fixture(scope="module")
def smallnet() -> nn.Module:
    """A freshly initialised ``smallnet`` (seed 0), eval mode."""
    torch.manual_seed(0)
    return create_model("smallnet").eval()


@pytest.fixture
def real_frames(shared_file) -> list[tuple[str, RawImage]]:
    """``(name, frame)`` for every shared real raw frame (skips without ``../shared``, fails under CI)."""
    return [(name, read_raw(shared_file("data", "real-raw", name), **opts)) for name, opts in REAL_FRAMES.items()]


def _tamper_conv_weight(data: bytes, delta: float = 0.05) -> bytes:
    """Add ``delta`` to one element of the first CONV_2D filter inside the flatbuffer bytes."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    sg = m.subgraphs[0]
    for op in sg.operators:
        if flatbuffer_utils.get_builtin_code_from_operator_code(m.operatorCodes[op.opcodeIndex]) == \
                schema.BuiltinOperator.CONV_2D:
            buf = m.buffers[sg.tensors[op.inputs[1]].buffer]
            weights = np.frombuffer(bytes(buf.data), dtype=np.float32).copy()
            weights[0] += delta
            buf.data = np.frombuffer(weights.tobytes(), dtype=np.uint8)
            return bytes(flatbuffer_utils.convert_object_to_bytearray(m))
    raise AssertionError("no CONV_2D in the model")


@pytest.fixture
def tamper_conv_weight():
    """``tamper_conv_weight(tflite_bytes, delta=0.05) -> bytes`` with one convolution weight changed."""
    return _tamper_conv_weight
