"""Static tiles of a .tflite (isplab.accel.tile): every tensor re-shaped, and what cannot be is refused."""

from __future__ import annotations

import pytest

from isplab.accel.tile import GPU_BUFFER_LIMIT, largest_tensor_bytes, retile
from isplab.errors import IsplabError
from isplab.export.flatbuffer import read_graph
from isplab.runtime.litert import run_tflite

MICROISP = ("peers", "microisp-official", "MicroISP.tflite")


def test_retile_reshapes_every_tensor(shared_file, tmp_path):
    src = shared_file(*MICROISP)
    assert largest_tensor_bytes(src) > GPU_BUFFER_LIMIT  # the full file would come back as zeros on the GPU
    g = read_graph(retile(src, tmp_path / "tile.tflite", (162, 216)))
    assert g.tensors[g.inputs[0]].shape == (1, 162, 216, 4) and g.tensors[g.outputs[0]].shape == (1, 324, 432, 3)
    assert g.tensors[g.ops[0].outputs[0]].shape == (1, 162, 216, 4)  # intermediate tensors too
    assert largest_tensor_bytes(tmp_path / "tile.tflite") < GPU_BUFFER_LIMIT
    import numpy as np

    (y,) = run_tflite(tmp_path / "tile.tflite", [np.full((1, 162, 216, 4), 0.3, np.float32)])
    assert y.shape == (1, 324, 432, 3) and np.isfinite(y).all()


def test_a_tile_the_graph_cannot_take_is_refused(shared_file, tmp_path):
    with pytest.raises(IsplabError, match="does not resize"):
        retile(shared_file(*MICROISP), tmp_path / "t.tflite", (40, 40))  # below MicroISP's 79 px minimum
