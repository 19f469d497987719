"""Mobile-GPU audit: will every op of a ``.tflite`` run on the TFLite GPU delegate (what AI Benchmark uses)?

The rules mirror the delegate's own checks (TensorFlow ``tensorflow/lite/tools/versioning/
gpu_compatibility.cc``, ``CheckGpuDelegateCompatibility``, and ``delegates/gpu/common/model_builder.cc``):

* **ops**: the builtin ops the delegate parses (:data:`GPU_OPS`) with their per-op conditions (fused
  activation not ``SIGN_BIT``; ``STRIDED_SLICE`` without ellipsis/new-axis/shrink masks on 3-D/4-D
  input; ``MIRROR_PAD`` reflect only with 4x2/3x2 paddings; ``DEPTH_TO_SPACE``/``SPACE_TO_DEPTH`` block
  > 1; ``SOFTMAX`` beta 1; reductions over constant int32 axes; depthwise multiplier 1 unless the input
  has one channel; ``RESIZE_BILINEAR`` not both align_corners and half_pixel_centers; ...);
* **ADD / MUL broadcasting** without the "enhanced broadcast" flag (the default delegate): equal ranks,
  a scalar / 1-D operand, 3-D onto 4-D with batch 1, ``[1, 1]`` or ``[b, c]`` onto ``[b, h, w, c]``;
  ``MUL`` also needs one operand not smaller than the other in every dimension;
* **tensors**: rank <= 4 ("Tensor dimensions must be less than 5"); runtime tensors of float32/float16,
  int8/uint8 (quantized models are dequantized by the delegate), int32 or bool; never int64/strings.

Verdicts: ``ok``; ``cpu-fallback`` (the delegate rejects the op, TFLite runs it on the CPU: the graph
splits and every boundary costs a GPU<->CPU copy); ``fail`` (stock TFLite cannot run it at all: custom
or Flex ops, which AI Benchmark does not ship, and ``STABLEHLO_*`` builtins, most of which have no
kernel there). The model-level checks add AI Benchmark's I/O
conventions (one input, one output, static shape; non-float32 I/O is only noted).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from isplab.export.flatbuffer import Graph, Op, Tensor, read_graph

OK, FALLBACK, FAIL = "ok", "cpu-fallback", "fail"

_UNARY = {"ABS", "CEIL", "COS", "ELU", "EXP", "FLOOR", "GELU", "LOG", "LOGISTIC", "NEG", "RSQRT", "SIGN",
          "SIN", "SQRT", "SQUARE", "TANH"}
_BINARY = {"ATAN2", "DIV", "EQUAL", "FLOOR_DIV", "FLOOR_MOD", "GREATER", "GREATER_EQUAL", "LOGICAL_AND",
           "LESS", "LESS_EQUAL", "MAXIMUM", "MINIMUM", "NOT_EQUAL", "POW", "SQUARED_DIFFERENCE", "SUB"}
_OTHER = {"ADD", "ADD_N", "AVERAGE_POOL_2D", "BATCH_MATMUL", "CAST", "CONCATENATION", "CONV_2D", "CUMSUM",
          "DENSIFY", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE", "DEQUANTIZE", "DYNAMIC_UPDATE_SLICE",
          "EMBEDDING_LOOKUP", "FULLY_CONNECTED", "GATHER", "HARD_SWISH", "LEAKY_RELU", "LSTM", "MAX_POOL_2D",
          "MEAN", "MIRROR_PAD", "MUL", "ONE_HOT", "PACK", "PAD", "PADV2", "PRELU", "QUANTIZE", "REDUCE_MAX",
          "REDUCE_MIN", "REDUCE_PROD", "RELU", "RELU6", "RELU_N1_TO_1", "RESHAPE", "RESIZE_BILINEAR",
          "RESIZE_NEAREST_NEIGHBOR", "SELECT", "SELECT_V2", "SLICE", "SOFTMAX", "SPACE_TO_DEPTH", "SPLIT",
          "SPLIT_V", "STRIDED_SLICE", "SUM", "TILE", "TRANSPOSE", "TRANSPOSE_CONV"}
#: Builtin ops the TFLite GPU delegate accepts (subject to the per-op checks below).
GPU_OPS = frozenset(_UNARY | _BINARY | _OTHER)
#: Custom ops the GPU delegate implements.
GPU_CUSTOM_OPS = frozenset({"Convolution2DTransposeBias", "MaxPoolingWithArgmax2D", "MaxUnpooling2D",
                            "Resampler"})
_RUNTIME_TYPES = {"FLOAT32", "FLOAT16", "INT8", "UINT8", "INT32", "BOOL"}
_SIGN_BIT = 5  # ActivationFunctionType.SIGN_BIT


@dataclass(frozen=True)
class OpRow:
    op: str
    count: int
    verdict: str
    reason: str = ""


@dataclass
class AuditReport:
    rows: list[OpRow]
    #: model-level problems (I/O conventions, dynamic shapes), each one line
    issues: list[str]
    #: informational remarks that do not make the model unclean (e.g. int8 I/O)
    notes: list[str]
    max_rank: int
    graph: Graph = field(repr=False)

    @property
    def problems(self) -> list[OpRow]:
        return [r for r in self.rows if r.verdict != OK]

    @property
    def clean(self) -> bool:
        return not self.problems and not self.issues

    def histogram(self) -> dict[str, int]:
        return dict(Counter(op.name for op in self.graph.ops).most_common())

    def summary(self) -> str:
        if self.clean:
            return f"GPU-clean: {len(self.graph.ops)} ops, max tensor rank {self.max_rank}"
        counts = Counter(r.verdict for r in self.problems)
        parts = [f"{sum(r.count for r in self.problems if r.verdict == v)} op(s) {v}" for v in counts]
        return ", ".join(parts + [f"{len(self.issues)} model issue(s)"] * bool(self.issues))

    def render(self) -> str:
        width = max([len(r.op) for r in self.rows] + [2])
        lines = [f"mobile-GPU audit (static rule table, the fallback without LiteRT's GPU runtime: "
                 f"`isplab accel setup`): {self.summary()}",
                 f"  {'op':<{width}}  {'count':>5}  verdict       reason"]
        lines += [f"  {r.op:<{width}}  {r.count:>5}  {r.verdict:<12}  {r.reason}".rstrip() for r in self.rows]
        lines += [f"  problem: {i}" for i in self.issues] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---- per-op checks ------------------------------------------------------------------------------------


def _activation(op: Op) -> str | None:
    act = getattr(op.options, "fusedActivationFunction", None)
    return "fused SIGN_BIT activation is not supported" if act == _SIGN_BIT else None


def _runtime_inputs(g: Graph, op: Op) -> list[Tensor]:
    return [g.tensors[i] for i in op.inputs if i >= 0 and not g.tensors[i].is_constant]


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> str | None:
    """The default (non-enhanced) ADD/MUL broadcast rule of ``CheckAddMulBroadcastCompatibility``."""
    if len(a) <= 1 or len(b) <= 1 or len(a) == len(b):
        return None
    long, short = (a, b) if len(a) >= len(b) else (b, a)
    if len(long) == 4 and len(short) == 3 and long[0] == 1:
        return None
    if len(long) == 4 and len(short) == 2 and long[0] == 1 and short == (1, 1):
        return None
    if len(long) == 4 and len(short) == 2 and long[0] == short[0] and long[3] == short[1]:
        return None
    return f"broadcasting {list(a)} with {list(b)} is not supported"


def _check_add(g: Graph, op: Op) -> str | None:
    if len(op.inputs) != 2:
        return f"{op.name} needs exactly two inputs"
    a, b = (g.tensors[i].shape for i in op.inputs)
    return _broadcast(a, b) or _activation(op)


def _check_mul(g: Graph, op: Op) -> str | None:
    if len(op.inputs) != 2:
        return "MUL needs exactly two inputs"
    a, b = (g.tensors[i].shape for i in op.inputs)
    if len(a) == len(b):
        if any(x < y for x, y in zip(a, b, strict=True)) and any(y < x for x, y in zip(a, b, strict=True)):
            return f"MUL of {list(a)} and {list(b)}: neither operand covers the other"
        return _activation(op)
    return _broadcast(a, b) or _activation(op)


def _check_elementwise(n_runtime: int) -> Callable[[Graph, Op], str | None]:
    def check(g: Graph, op: Op) -> str | None:
        runtime = len(_runtime_inputs(g, op))
        if n_runtime == 1 and runtime != 1:
            return f"needs 1 runtime input, has {runtime}"
        if n_runtime == 2 and runtime not in (1, 2):
            return f"needs 1 or 2 runtime inputs, has {runtime}"
        return _activation(op)
    return check


def _check_block(g: Graph, op: Op) -> str | None:
    block = getattr(op.options, "blockSize", 2)
    return None if block > 1 else f"block_size {block} is not supported"


def _check_strided_slice(g: Graph, op: Op) -> str | None:
    o = op.options
    for mask in ("ellipsisMask", "newAxisMask", "shrinkAxisMask"):
        if getattr(o, mask, 0):
            return f"{mask} is not supported"
    return _check_slice(g, op)


def _check_slice(g: Graph, op: Op) -> str | None:
    rank = g.tensors[op.inputs[0]].rank
    return None if rank in (3, 4) else f"{op.name} supports 3-D/4-D input only, got rank {rank}"


def _check_pad(g: Graph, op: Op) -> str | None:
    if op.name == "MIRROR_PAD" and getattr(op.options, "mode", 0) != 0:
        return "only REFLECT mirror padding is supported"
    pads = g.tensors[op.inputs[1]].shape if len(op.inputs) > 1 else ()
    return None if pads in ((4, 2), (3, 2)) else f"paddings of shape {list(pads)} (needs 4x2 or 3x2)"


def _check_reduce(g: Graph, op: Op) -> str | None:
    axes = g.tensors[op.inputs[1]] if len(op.inputs) > 1 else None
    if axes is None or not axes.is_constant or axes.dtype != "INT32":
        return "axes must be a constant int32 tensor"
    return None


def _check_depthwise(g: Graph, op: Op) -> str | None:
    mult = getattr(op.options, "depthMultiplier", 1)
    cin = g.tensors[op.inputs[0]].shape[-1]
    if mult != 1 and cin != 1:
        return f"depth_multiplier {mult} with {cin} input channels"
    return _activation(op)


def _check_softmax(g: Graph, op: Op) -> str | None:
    beta = getattr(op.options, "beta", 1.0)
    return None if beta == 1.0 else f"softmax beta {beta} != 1"


def _check_resize(g: Graph, op: Op) -> str | None:
    o = op.options
    if getattr(o, "alignCorners", False) and getattr(o, "halfPixelCenters", False):
        return "align_corners together with half_pixel_centers"
    return None


def _check_dequantize(g: Graph, op: Op) -> str | None:
    return "int16 dequantization is not supported" if g.tensors[op.inputs[0]].dtype == "INT16" else None


def _check_fc(g: Graph, op: Op) -> str | None:
    if getattr(op.options, "weightsFormat", 0) != 0:
        return "shuffled FULLY_CONNECTED weights format"
    if g.tensors[op.inputs[0]].is_constant:
        return "constant FULLY_CONNECTED input"
    in_rank, out_rank = g.tensors[op.inputs[0]].rank, g.tensors[op.outputs[0]].rank
    if getattr(op.options, "keepNumDims", False) and in_rank != out_rank:
        return "keep_num_dims with different input and output ranks"
    return _activation(op)


def _check_add_n(g: Graph, op: Op) -> str | None:
    return None if len(op.inputs) == 2 else "ADD_N supports 2 inputs only"


_CHECKS: dict[str, Callable[[Graph, Op], str | None]] = {
    "ADD": _check_add, "MUL": _check_mul, "ADD_N": _check_add_n,
    "CONV_2D": lambda g, op: _activation(op), "TRANSPOSE_CONV": lambda g, op: None,
    "AVERAGE_POOL_2D": lambda g, op: _activation(op), "MAX_POOL_2D": lambda g, op: _activation(op),
    "DEPTHWISE_CONV_2D": _check_depthwise, "FULLY_CONNECTED": _check_fc,
    "DEPTH_TO_SPACE": _check_block, "SPACE_TO_DEPTH": _check_block,
    "STRIDED_SLICE": _check_strided_slice, "SLICE": _check_slice,
    "PAD": _check_pad, "PADV2": _check_pad, "MIRROR_PAD": _check_pad,
    "MEAN": _check_reduce, "SUM": _check_reduce, "REDUCE_MAX": _check_reduce, "REDUCE_MIN": _check_reduce,
    "REDUCE_PROD": _check_reduce, "SOFTMAX": _check_softmax, "RESIZE_BILINEAR": _check_resize,
    "DEQUANTIZE": _check_dequantize,
    **{name: _check_elementwise(1) for name in _UNARY},
    **{name: _check_elementwise(2) for name in _BINARY},
}


def check_op(g: Graph, op: Op) -> tuple[str, str]:
    """``(verdict, reason)`` for one op."""
    if op.is_custom:
        if op.name in GPU_CUSTOM_OPS:
            return OK, ""
        if op.name.startswith("Flex"):
            return FAIL, "TF Select (Flex) op: needs the TensorFlow runtime, absent from TFLite/AI Benchmark"
        return FAIL, "custom op unknown to the stock TFLite runtime"
    if op.name.startswith("STABLEHLO_") and op.name not in GPU_OPS:
        return FAIL, "StableHLO op: stock TFLite runtimes (AI Benchmark) have no kernel for most of them"
    if op.name not in GPU_OPS:
        return FALLBACK, "not supported by the TFLite GPU delegate"
    tensors = [g.tensors[i] for i in (*op.inputs, *op.outputs) if i >= 0]
    rank = max((t.rank for t in tensors), default=0)
    if rank > 4:
        return FALLBACK, f"rank-{rank} tensor; the GPU delegate handles rank <= 4"
    bad = sorted({t.dtype for t in tensors if not t.is_constant and t.dtype not in _RUNTIME_TYPES})
    if bad:
        return FALLBACK, f"{'/'.join(bad)} tensors are not supported"
    check = _CHECKS.get(op.name)
    reason = check(g, op) if check else None
    return (FALLBACK, reason) if reason else (OK, "")


def audit_graph(g: Graph) -> AuditReport:
    verdicts: Counter[tuple[str, str, str]] = Counter()
    order: dict[tuple[str, str, str], int] = {}
    for op in g.ops:
        key = (op.name, *check_op(g, op))
        verdicts[key] += 1
        order.setdefault(key, len(order))
    rows = [OpRow(name, verdicts[(name, v, r)], v, r) for name, v, r in sorted(order, key=order.get)]
    issues, notes = [], []
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        issues.append(f"{len(g.inputs)} input(s) and {len(g.outputs)} output(s); AI Benchmark's custom "
                      "model mode expects exactly one of each")
    for kind, idx in (("input", g.inputs), ("output", g.outputs)):
        for i in idx:
            t = g.tensors[i]
            if any(d < 0 for d in t.signature):
                notes.append(f"{kind} {t.name!r} has dynamic shape {list(t.signature)}: the GPU delegate "
                             "needs it resized to a fixed size before it is applied")
            if t.dtype != "FLOAT32":
                notes.append(f"{kind} {t.name!r} is {t.dtype}, not float32 (AI Benchmark feeds float32 "
                             "unless the model is marked quantized)")
    movers = sum(op.name in ("TRANSPOSE", "RESHAPE") for op in g.ops)
    if movers:
        notes.append(f"{movers} TRANSPOSE/RESHAPE op(s): supported, but pure data movement is slow on mobile "
                     "GPUs (write pixel shuffles with isplab.models.ops.depth_to_space)")
    max_rank = max((t.rank for t in g.tensors), default=0)
    return AuditReport(rows, issues, notes, max_rank, g)


def audit_tflite(model: str | Path | bytes) -> AuditReport:
    """Audit a ``.tflite`` file (or its bytes) for the TFLite mobile GPU delegate."""
    return audit_graph(read_graph(model))
