"""Short internal tensor names (isplab.export.tensor_names): smaller files, bit-identical outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.export.convert import export_tflite
from isplab.export.flatbuffer import read_graph
from isplab.export.tensor_names import shorten_tensor_names
from isplab.export.tflite_weights import load_tflite_model
from isplab.export.wrapper import INPUT_NAME, OUTPUT_NAME
from isplab.models import create_model
from isplab.runtime.litert import run_tflite

SIZE = (96, 128)
MICROISP = ("peers", "microisp-official", "MicroISP.tflite")


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("names") / "microisp.tflite"
    return export_tflite(create_model("microisp").eval(), path, input_size=SIZE)


def test_tensor_names_are_short_and_io_names_kept(export):
    g = export.audit.graph
    io = set(g.inputs) | set(g.outputs)
    assert set(g.input_names) == {INPUT_NAME} and set(g.output_names) == {OUTPUT_NAME}
    internal = [(t.index, t.name) for t in g.tensors if t.index not in io]
    assert internal and all(name == f"t{i}" for i, name in internal)
    assert all("isplab" not in t.name and "/" not in t.name for t in g.tensors)


def test_shorten_tensor_names_keeps_outputs_bit_identical(export, tmp_path):
    original = export.path.read_bytes()
    long_names = read_graph(export.path)
    # Re-name with long names first, so the test does not depend on what the exporter already did.
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(original))
    for t in m.subgraphs[0].tensors:
        t.name = b"isplab.export.wrapper.ExportWrapper/some/long/module/path/" + t.name
    long_path, short_path = tmp_path / "long.tflite", tmp_path / "short.tflite"
    long_path.write_bytes(bytes(flatbuffer_utils.convert_object_to_bytearray(m)))
    short_path.write_bytes(shorten_tensor_names(long_path.read_bytes()))
    assert short_path.stat().st_size < long_path.stat().st_size
    g = read_graph(short_path)
    assert [g.tensors[i].name for i in g.inputs] == [read_graph(long_path).tensors[i].name for i in g.inputs]
    assert g.input_names == long_names.input_names and g.output_names == long_names.output_names
    x = np.random.default_rng(0).random((1, *SIZE, 4), dtype=np.float32)
    np.testing.assert_array_equal(run_tflite(short_path, [x])[0], run_tflite(long_path, [x])[0])


def test_microisp_official_weights_file_is_near_official_size(shared_file, tmp_path):
    official = shared_file(*MICROISP)
    model = load_tflite_model("microisp", official)
    plain = export_tflite(model, tmp_path / "plain.tflite", input_size=SIZE, optimize=False)
    assert plain.parity.passed
    assert plain.size_bytes <= 1.1 * official.stat().st_size, (plain.size_bytes, official.stat().st_size)
    # the optimiser's space-to-depth convolutions hold 7x the weights (2x2 blocks of 16x16): a bigger file
    optimized = export_tflite(model, tmp_path / "optimized.tflite", input_size=SIZE)
    assert optimized.size_bytes <= 3 * official.stat().st_size
