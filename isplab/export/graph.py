"""Read a ``.tflite`` flatbuffer into small plain records (ops, tensors, I/O) for the audit and ``inspect``.

Uses the schema bindings shipped with ``ai_edge_litert`` (no TensorFlow). Only the main subgraph (0) is
read: ISP models have one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class Graph:
    ops: tuple[Op, ...]
    tensors: tuple[Tensor, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    #: signature I/O names (``raw`` -> tensor index), empty when the model has no signature.
    input_names: dict[str, int]
    output_names: dict[str, int]
    size_bytes: int

    def tensor(self, index: int) -> Tensor | None:
        return self.tensors[index] if index >= 0 else None


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
    tensors = []
    for i, t in enumerate(sg.tensors):
        buf = m.buffers[t.buffer] if t.buffer < len(m.buffers) else None
        const = buf is not None and buf.data is not None and len(buf.data) > 0
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
                 tuple(int(x) for x in sg.outputs), in_names, out_names, len(data))


def _str(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")
