"""Shrink a converted ``.tflite`` without touching its graph: short internal tensor names.

litert-torch names every tensor after its full module path
(``isplab.export.wrapper.ExportWrapper/isplab.models.microisp.MicroISP_model/...``), which can be more
than half of a small model's file. Internal tensors are renamed ``t{index}``; the subgraph's input and
output tensors keep their names, and the signature defs (``raw`` / ``rgb``) refer to tensors by index,
so they are unaffected. Operators, buffers and quantization parameters are not changed, so outputs are
bit-identical.
"""

from __future__ import annotations


def shorten_tensor_names(data: bytes) -> bytes:
    """``.tflite`` bytes -> the same model with every non-I/O tensor named ``t{index}`` (per subgraph)."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    for subgraph in model.subgraphs:
        keep = set(subgraph.inputs) | set(subgraph.outputs)
        for i, tensor in enumerate(subgraph.tensors):
            if i not in keep:
                tensor.name = f"t{i}".encode()
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
