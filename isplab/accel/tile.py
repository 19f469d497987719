"""A ``.tflite`` re-shaped for one static tile: what the accelerators are checked on.

Qualcomm's AOT compiler takes static shapes only, the HTP simulator takes seconds per small tile, and
LiteRT's GPU runtime silently returns zeros for buffers over 128 MiB: every check runs the model at a
tile size. :func:`retile` resizes the file's input on LiteRT's reference kernels (no delegate, so every
tensor's shape is propagated), then writes each tensor's new static shape into a copy of the flatbuffer.
Graphs with size-dependent constants (isplab's optimised exports are built for one size) cannot be
re-shaped: they are exported at the tile size instead (:mod:`isplab.accel.check`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from isplab.errors import IsplabError, first_line

#: LiteRT's GPU runtime returns all zeros for a buffer larger than this (with success status).
GPU_BUFFER_LIMIT = 128 * 2**20
#: Default packed tile: a MicroISP of this size compiles for the HTP in ~5 s.
DEFAULT_TILE = (162, 216)


def input_shape(model: str | Path) -> tuple[int, ...]:
    from isplab.export.flatbuffer import read_graph

    g = read_graph(model)
    return g.tensors[g.inputs[0]].shape


def largest_tensor_bytes(model: str | Path) -> int:
    """Bytes of the model's largest tensor (what must stay under :data:`GPU_BUFFER_LIMIT`)."""
    from isplab.export.flatbuffer import read_graph

    sizes = {"FLOAT32": 4, "INT32": 4, "FLOAT16": 2, "INT16": 2, "INT8": 1, "UINT8": 1, "INT64": 8}
    return max(t.size * sizes.get(t.dtype, 4) for t in read_graph(model).tensors)


def retile(src: str | Path, dst: str | Path, tile: tuple[int, int]) -> Path:
    """Write ``src`` with input ``[1, *tile, C]`` and every tensor's static shape to match to ``dst``.

    Raises:
        IsplabError: the graph does not resize to ``tile`` (size-dependent constants, invalid size).
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from ai_edge_litert.tools import flatbuffer_utils

    try:
        it = Interpreter(model_path=str(src),
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        detail = it.get_input_details()[0]
        it.resize_tensor_input(detail["index"], [1, *tile, int(detail["shape"][-1])], strict=False)
        it.allocate_tensors()
        shapes = {d["index"]: d["shape"] for d in it.get_tensor_details()}
    except (RuntimeError, ValueError) as exc:
        raise IsplabError(f"{src}: does not resize to a {tile[0]}x{tile[1]} tile ({first_line(exc)}). "
                          "Pass a tile the model accepts (--tile HxW) or its checkpoint") from None
    empty = next((d["name"] for d in it.get_tensor_details() if len(d["shape"]) and min(d["shape"]) < 1), None)
    if empty is not None:  # e.g. a "VALID" stride-3 pyramid that runs out of pixels
        raise IsplabError(f"{src}: does not resize to a {tile[0]}x{tile[1]} tile (tensor {empty} would be empty). "
                          "Pass a larger tile (--tile HxW)")
    model = flatbuffer_utils.read_model(str(src))
    for i, tensor in enumerate(model.subgraphs[0].tensors):
        if i in shapes and tensor.shape is not None and len(tensor.shape):
            tensor.shape = np.asarray(shapes[i], np.int32)
            tensor.shapeSignature = None
    flatbuffer_utils.write_model(model, str(dst))
    return Path(dst)
