"""Read a ``.tflite`` flatbuffer into small plain records (ops, tensors, I/O) for the audit and ``inspect``.

Uses the schema bindings shipped with ``ai_edge_litert`` (no TensorFlow). Only the main subgraph (0) is
read: ISP models have one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from isplab.errors import IsplabError


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    #: ``shape`` with ``-1`` for dynamic dimensions (equals ``shape`` for static models).
    signature: tuple[int, ...]
    dtype: str  #: TFLite type name, e.g. ``FLOAT32``, ``INT8``.
    is_constant: bool
    scale: tuple[float, ...] = ()
    zero_point: tuple[int, ...] = ()

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= max(d, 1)
        return n


@dataclass(frozen=True)
class Op:
    index: int
    name: str  #: builtin name (``CONV_2D``) or the custom op's name
    is_custom: bool
    inputs: tuple[int, ...]  #: tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: Any = field(default=None, compare=False, repr=False)  #: the flatbuffer ``*OptionsT`` object


_NUMPY_TYPES = {"FLOAT32": np.float32, "FLOAT16": np.float16, "INT32": np.int32, "INT8": np.int8,
                "UINT8": np.uint8, "INT64": np.int64, "INT16": np.int16}


@dataclass(frozen=True, eq=False)
class Graph:
    ops: tuple[Op, ...]
    tensors: tuple[Tensor, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    #: signature I/O names (``raw`` -> tensor index), empty when the model has no signature.
    input_names: dict[str, int]
    output_names: dict[str, int]
    size_bytes: int
    #: where the model came from (a path, or ``<model bytes>``), for error messages
    source: str = ""
    #: raw bytes of each tensor's constant buffer (None for activations)
    buffers: tuple[bytes | None, ...] = field(default=(), repr=False, compare=False)

    def tensor(self, index: int) -> Tensor | None:
        return self.tensors[index] if index >= 0 else None

    def constant(self, index: int) -> np.ndarray:
        """The data of constant tensor ``index`` in its TFLite shape, as a writable array."""
        t, data = self.tensors[index], self.buffers[index] if index < len(self.buffers) else None
        if data is None:
            raise IsplabError(f"{self.source}: tensor {index} ({t.name}) is not a constant")
        return np.frombuffer(data, _NUMPY_TYPES[t.dtype]).reshape(t.shape).copy()

    @cached_property
    def _producers(self) -> dict[int, Op]:
        return {t: op for op in self.ops for t in op.outputs}

    @cached_property
    def _consumers(self) -> dict[int, list[Op]]:
        out: dict[int, list[Op]] = {}
        for op in self.ops:
            for t in op.inputs:
                out.setdefault(t, []).append(op)
        return out

    def producer(self, tensor: int) -> Op | None:
        return self._producers.get(tensor)

    def consumers(self, tensor: int) -> list[Op]:
        return self._consumers.get(tensor, [])

    def ancestors(self, tensor: int) -> list[Op]:
        """Every operator ``tensor`` depends on, in execution order."""
        seen: dict[int, Op] = {}
        stack = [tensor]
        while stack:
            op = self.producer(stack.pop())
            if op is not None and op.index not in seen:
                seen[op.index] = op
                stack.extend(op.inputs)
        return [seen[i] for i in sorted(seen)]


def _names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def load_model_bytes(model: str | Path | bytes | bytearray) -> bytes:
    if isinstance(model, bytes | bytearray):
        return bytes(model)
    path = Path(model)
    if not path.is_file():
        raise IsplabError(f"{path}: no such .tflite file. Check the path (write one with `isplab export`)")
    return path.read_bytes()


def read_graph(model: str | Path | bytes | bytearray) -> Graph:
    """Parse a TFLite model (path or bytes)."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    data = load_model_bytes(model)
    where = model if isinstance(model, str | Path) else "<model bytes>"
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise IsplabError(f"{where}: not a TFLite flatbuffer (no TFL3 identifier). Pass a .tflite file")
    try:
        m = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    except Exception as exc:  # flatbuffers raises assorted errors on truncated files
        raise IsplabError(f"{where}: unreadable TFLite flatbuffer ({exc.__class__.__name__}). "
                          "Re-export the model") from None
    op_names, type_names = _names(schema.BuiltinOperator), _names(schema.TensorType)
    sg = m.subgraphs[0]
    tensors, buffers = [], []
    for i, t in enumerate(sg.tensors):
        buf = m.buffers[t.buffer] if t.buffer < len(m.buffers) else None
        const = buf is not None and buf.data is not None and len(buf.data) > 0
        buffers.append(np.asarray(buf.data, np.uint8).tobytes() if const else None)
        q = t.quantization
        scale = q.scale if q is not None and q.scale is not None else ()
        zero = q.zeroPoint if q is not None and q.zeroPoint is not None else ()
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else ()))
        sig = tuple(int(d) for d in t.shapeSignature) if t.shapeSignature is not None else shape
        tensors.append(Tensor(
            index=i, name=(t.name or b"").decode() if isinstance(t.name, bytes) else str(t.name or ""),
            shape=shape, signature=sig, dtype=type_names.get(t.type, str(t.type)), is_constant=const,
            scale=tuple(float(s) for s in scale), zero_point=tuple(int(z) for z in zero),
        ))
    ops = []
    for i, op in enumerate(sg.operators):
        code = m.operatorCodes[op.opcodeIndex]
        builtin = flatbuffer_utils.get_builtin_code_from_operator_code(code)
        name = op_names.get(builtin, str(builtin))
        custom = name == "CUSTOM"
        if custom:
            cc = code.customCode
            name = cc.decode() if isinstance(cc, bytes) else str(cc)
        ops.append(Op(i, name, custom, tuple(int(x) for x in op.inputs), tuple(int(x) for x in op.outputs),
                      op.builtinOptions))
    in_names: dict[str, int] = {}
    out_names: dict[str, int] = {}
    for sd in m.signatureDefs or []:
        for tm in sd.inputs or []:
            in_names[_str(tm.name)] = int(tm.tensorIndex)
        for tm in sd.outputs or []:
            out_names[_str(tm.name)] = int(tm.tensorIndex)
        break  # the first signature is the model's (we export one)
    return Graph(tuple(ops), tuple(tensors), tuple(int(x) for x in sg.inputs),
                 tuple(int(x) for x in sg.outputs), in_names, out_names, len(data), str(where), tuple(buffers))


def _str(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
