"""``isplab inspect``: what is in a ``.tflite`` (I/O, ops, size, parameters, MACs) plus the GPU audit.

MACs count the multiply-accumulates of ``CONV_2D``, ``DEPTHWISE_CONV_2D``, ``TRANSPOSE_CONV``,
``FULLY_CONNECTED`` and ``BATCH_MATMUL`` from tensor shapes at the model's input size (bias adds,
activations and element-wise ops are left out); FLOPs = 2 x MACs. Parameters are the elements of the
constant tensors feeding those ops' weight/bias slots plus other constant float tensors (e.g. PReLU
slopes), each counted once; shape/axis constants are not parameters.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from isplab.export.audit import AuditReport, audit_graph
from isplab.export.flatbuffer import Graph, Tensor, read_graph

_WEIGHT_SLOTS = {"CONV_2D": (1, 2), "DEPTHWISE_CONV_2D": (1, 2), "FULLY_CONNECTED": (1, 2),
                 "TRANSPOSE_CONV": (1, 3), "BATCH_MATMUL": (0, 1)}
_PARAM_TYPES = {"FLOAT32", "FLOAT16", "INT8", "UINT8", "INT4"}


@dataclass
class TfliteInfo:
    path: str
    size_bytes: int
    inputs: list[Tensor]
    outputs: list[Tensor]
    input_names: list[str]
    output_names: list[str]
    op_histogram: dict[str, int]
    parameters: int
    macs: int
    audit: AuditReport
    #: the raw domain ``isplab export`` stored (``camera`` text, or ``None`` when the file has none)
    raw_domain: str | None = None

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def render(self) -> str:
        lines = [f"{self.path}: {self.size_bytes:,} bytes ({self.size_bytes / 2**20:.3f} MB)"]
        for kind, tensors, names in (("input", self.inputs, self.input_names),
                                     ("output", self.outputs, self.output_names)):
            for t, name in zip(tensors, names, strict=True):
                q = f", quantization scale {t.scale[0]:.6g} zero point {t.zero_point[0]}" if t.scale else ""
                lines.append(f"{kind:<6} {name!r} shape {list(t.signature)} {t.dtype}{q}")
        lines.append(f"parameters {self.parameters:,}")
        lines.append(f"MACs {self.macs:,} ({self.macs / 1e9:.3f} G), FLOPs {self.flops:,} "
                     f"({self.flops / 1e9:.3f} G) at the input size")
        lines.append("ops " + ", ".join(f"{k} x{v}" for k, v in self.op_histogram.items()))
        lines.append(f"raw domain: {self.raw_domain} (the camera adapter maps frames into it)" if self.raw_domain
                     is not None else "raw domain: none stored (frames are developed as read)")
        return "\n".join([*lines, self.audit.render()])


def _prod(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= max(d, 1)
    return n


def count_macs(g: Graph) -> int:
    total = 0
    for op in g.ops:
        t = [g.tensors[i] if i >= 0 else None for i in op.inputs]
        out = g.tensors[op.outputs[0]] if op.outputs else None
        if out is None:
            continue
        if op.name == "CONV_2D":  # filter [Cout, KH, KW, Cin/groups]
            total += _prod(out.shape) * _prod(t[1].shape[1:])
        elif op.name == "DEPTHWISE_CONV_2D":  # filter [1, KH, KW, Cout]
            total += _prod(out.shape) * _prod(t[1].shape[1:3])
        elif op.name == "TRANSPOSE_CONV":  # inputs: output_shape, filter [Cout, KH, KW, Cin], input
            total += _prod(t[2].shape) * _prod(t[1].shape[:3])
        elif op.name == "FULLY_CONNECTED":  # filter [out, in]
            total += _prod(out.shape) * t[1].shape[-1]
        elif op.name == "BATCH_MATMUL":
            adj_x = getattr(op.options, "adjX", False)
            total += _prod(out.shape) * t[0].shape[-2 if adj_x else -1]
    return total


def count_parameters(g: Graph) -> int:
    seen: set[int] = set()
    for op in g.ops:
        slots = _WEIGHT_SLOTS.get(op.name, ())
        for k, i in enumerate(op.inputs):
            if i < 0 or i in seen:
                continue
            t = g.tensors[i]
            # int32 constants are shapes/axes, except biases of quantized convolutions
            if t.is_constant and (t.dtype in _PARAM_TYPES or (k in slots and t.dtype == "INT32")):
                seen.add(i)
    return sum(g.tensors[i].size for i in seen)


def inspect_tflite(model: str | Path | bytes) -> TfliteInfo:
    g = read_graph(model)
    name_of = {i: n for n, i in g.input_names.items()} | {i: n for n, i in g.output_names.items()}
    return TfliteInfo(
        path=str(model) if isinstance(model, str | Path) else "<model bytes>",
        size_bytes=g.size_bytes,
        inputs=[g.tensors[i] for i in g.inputs],
        outputs=[g.tensors[i] for i in g.outputs],
        input_names=[name_of.get(i, g.tensors[i].name) for i in g.inputs],
        output_names=[name_of.get(i, g.tensors[i].name) for i in g.outputs],
        op_histogram=dict(Counter(op.name for op in g.ops).most_common()),
        parameters=count_parameters(g),
        macs=count_macs(g),
        audit=audit_graph(g),
        raw_domain=_stored_domain(model),
    )


def _stored_domain(model: str | Path | bytes) -> str | None:
    from isplab.camera.profile import stored_domain
    from isplab.errors import IsplabError

    try:
        domain = stored_domain(model)
    except IsplabError as exc:  # a diagnostic tool still shows the rest of the file
        return f"unusable ({exc})"
    return None if domain is None else domain.camera or "unnamed"
