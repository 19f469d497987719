"""Named metadata entries of a ``.tflite`` file (the flatbuffer's ``Model.metadata``: name -> buffer).

isplab's export stores the raw domain the model was trained in under :data:`RAW_DOMAIN` (JSON of
:meth:`isplab.camera.profile.RawDomain.to_dict`), so ``isplab develop`` can map a camera's frames into it
with a ``.tflite`` exactly as with the checkpoint; without it a file can only be fed frames as read.
The interpreter ignores entries it does not know. numpy and LiteRT's schema bindings only: no torch.
"""

from __future__ import annotations

import mmap
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from isplab.errors import IsplabError

#: Entry holding the model's raw domain as UTF-8 JSON.
RAW_DOMAIN = "isplab.raw_domain"


def add_metadata(model: bytes, entries: Mapping[str, bytes]) -> bytes:
    """``.tflite`` bytes with ``entries`` added (an entry of the same name is replaced); the graph, its
    buffers and therefore its outputs are unchanged."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    kept = []
    for md in m.metadata or []:
        if _name(md.name) in entries:
            m.buffers[md.buffer].data = None  # the replaced entry's bytes do not stay behind in the file
        else:
            kept.append(md)
    for name, payload in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(payload, np.uint8)
        m.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name, entry.buffer = name.encode(), len(m.buffers) - 1
        kept.append(entry)
    m.metadata = kept
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m))


def read_metadata(model: str | Path | bytes) -> dict[str, bytes]:
    """Every metadata entry of a ``.tflite`` (path or bytes) as ``name -> bytes``. A file is memory-mapped,
    so only the pages of the entries are read, however large its weights."""
    if isinstance(model, bytes | bytearray):
        return _entries(model, "<model bytes>")
    path = Path(model)
    try:
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return _entries(view, str(path))
    except (OSError, ValueError) as exc:  # missing, unreadable, or empty (mmap refuses 0 bytes)
        raise IsplabError(f"{path}: cannot read it as a .tflite ({type(exc).__name__}: {exc}). "
                          "Pass a file written by `isplab export`") from None


def _entries(buf: bytes | bytearray | mmap.mmap, source: str) -> dict[str, bytes]:
    from ai_edge_litert import schema_py_generated as schema

    try:
        m = schema.Model.GetRootAs(buf, 0)
        out = {}
        for i in range(m.MetadataLength()):
            entry = m.Metadata(i)
            buffer = m.Buffers(entry.Buffer())
            if buffer.Offset() > 1:  # large files keep buffers after the flatbuffer, by offset and size
                out[_name(entry.Name())] = bytes(buf[buffer.Offset():buffer.Offset() + buffer.Size()])
            else:
                out[_name(entry.Name())] = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
        return out
    except Exception as exc:  # flatbuffers raises assorted errors on truncated or foreign files
        raise IsplabError(f"{source}: not a readable .tflite flatbuffer ({type(exc).__name__}: {exc}). "
                          "Pass a file written by `isplab export`") from None


def _name(raw: bytes | str | None) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")
