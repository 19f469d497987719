"""Post-training quantization of a float ``.tflite`` with ``ai_edge_quantizer``.

* **fp16**: weights stored as float16 (``FLOAT_CASTING``, 16 bits, weight-only); compute stays float,
  which is what the TFLite GPU delegate runs natively.
* **int8**: full integer, static ranges from a representative dataset (``min/max`` uniform, int8
  weights per channel and int8 activations; ranges narrower than :data:`MIN_RANGE` are widened). I/O
  stays float32 by default (``QUANTIZE`` first, ``DEQUANTIZE`` last); ``int8_io`` makes it int8.

``ai_edge_quantizer`` does not know ``DEPTH_TO_SPACE`` and leaves it float between a ``DEQUANTIZE`` and
a ``QUANTIZE``. Depth-to-space only moves values, so :func:`fold_float_depth_to_space` runs it on the
int8 tensor instead (same scale and zero point in and out: exact); the ``QUANTIZE`` after it stays as an
int8 -> int8 requantization where the next op needs other parameters (a concatenation's inputs share
its output's, which XNNPACK requires).
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import warnings
from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from isplab.errors import IsplabError


@contextlib.contextmanager
def _quiet():
    """The quantizer prints progress reports and absl warnings; keep the CLI output readable."""
    absl_logger = logging.getLogger("absl")
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. the calibrator's "preserve_all_tensors" notice
            yield
    finally:
        absl_logger.setLevel(level)


def quantize_fp16(model: bytes) -> bytes:
    """Float model -> float16 weights (weight-only; activations and I/O stay float32)."""
    from isplab.extras import require

    require("export", "quantizing a .tflite")
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer, recipe_manager

    rm = recipe_manager.RecipeManager()
    rm.add_weight_only_config(
        regex=".*", operation_name=qtyping.TFLOperationName.ALL_SUPPORTED, num_bits=16,
        algorithm_key=algorithm_manager.AlgorithmName.FLOAT_CASTING,
    )
    with _quiet():
        q = quantizer.Quantizer(bytearray(model), rm.get_quantization_recipe())
        return bytes(q.quantize(enable_progress_report=False).quantized_model)


def quantize_int8(
    model: bytes,
    calibration: Iterable[np.ndarray],
    *,
    input_name: str,
    signature_key: str = "serving_default",
    int8_io: bool = False,
) -> bytes:
    """Float model -> full-integer int8, calibrated on ``calibration`` (NHWC float32 arrays).

    Raises:
        IsplabError: no calibration sample was given.
    """
    from isplab.extras import require

    require("export", "quantizing a .tflite")
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer, recipe_manager

    samples = [{input_name: np.asarray(x, dtype=np.float32)} for x in calibration]
    if not samples:
        raise IsplabError("int8 export needs calibration data (a representative sample of training raws). "
                          "Pass calibration=... or `--calib-data DIR`")
    names = qtyping.TFLOperationName
    rm = recipe_manager.RecipeManager()
    rm.add_static_config(
        regex=".*", operation_name=names.ALL_SUPPORTED, activation_num_bits=8, weight_num_bits=8,
        algorithm_key=algorithm_manager.AlgorithmName.MIN_MAX_UNIFORM_QUANT,
    )
    if not int8_io:  # later rules win: keep the graph's input and output float32
        for io_op in (names.INPUT, names.OUTPUT):
            rm.add_quantization_config(regex=".*", operation_name=io_op,
                                       algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE)
    with _quiet():
        q = quantizer.Quantizer(bytearray(model), rm.get_quantization_recipe())
        ranges = widen_ranges(q.calibrate({signature_key: samples}, num_threads=1))
        out = bytes(q.quantize(ranges, enable_progress_report=False).quantized_model)
    return fold_float_depth_to_space(out)


#: Smallest activation range kept from calibration. A channel that stayed (almost) constant, e.g. a
#: dead ReLU, gets a near-zero scale otherwise, and XNNPACK refuses requantization ratios beyond 256.
MIN_RANGE = 1e-3


def widen_ranges(ranges: dict, min_range: float = MIN_RANGE) -> dict:
    """Raise ``max`` where ``max - min < min_range`` in calibrated min/max statistics."""
    out = {}
    for name, qsv in ranges.items():
        if "min" in qsv and "max" in qsv:
            lo, hi = np.asarray(qsv["min"]), np.asarray(qsv["max"])
            qsv = {**qsv, "max": np.maximum(hi, lo + min_range).astype(hi.dtype)}
        out[name] = qsv
    return out


def _same_params(a, b) -> bool:
    """Whether two flatbuffer tensors carry the same quantization scale and zero point."""
    qa, qb = a.quantization, b.quantization
    return (qa is not None and qb is not None and np.array_equal(qa.scale, qb.scale)
            and np.array_equal(qa.zeroPoint, qb.zeroPoint))


def fold_float_depth_to_space(model: bytes) -> bytes:
    """Rewrite ``DEQUANTIZE -> DEPTH_TO_SPACE (float) [-> QUANTIZE]`` to run depth-to-space on int8.

    With a following ``QUANTIZE`` to the same parameters both converters disappear; to other parameters
    the ``QUANTIZE`` stays and requantizes int8 -> int8; otherwise the ``DEQUANTIZE`` moves behind the
    depth-to-space (float graph output).
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    sg = m.subgraphs[0]
    op_code = flatbuffer_utils.get_builtin_code_from_operator_code
    ops_enum = schema.BuiltinOperator
    changed = False
    while True:
        codes = [op_code(m.operatorCodes[op.opcodeIndex]) for op in sg.operators]
        producer = {t: i for i, op in enumerate(sg.operators) for t in op.outputs}
        consumers: dict[int, list[int]] = defaultdict(list)
        for i, op in enumerate(sg.operators):
            for t in op.inputs:
                consumers[t].append(i)
        graph_outputs = set(sg.outputs)
        for j, d2s in enumerate(sg.operators):
            if codes[j] != ops_enum.DEPTH_TO_SPACE:
                continue
            x = d2s.inputs[0]
            i = producer.get(x)
            if i is None or codes[i] != ops_enum.DEQUANTIZE or consumers[x] != [j] or x in graph_outputs:
                continue
            dq = sg.operators[i]
            q_in = dq.inputs[0]
            if sg.tensors[q_in].type != schema.TensorType.INT8:
                continue  # e.g. a float16 weight DEQUANTIZE: nothing to fold
            y = d2s.outputs[0]
            after = consumers[y]
            m.operatorCodes[d2s.opcodeIndex].version = max(m.operatorCodes[d2s.opcodeIndex].version, 2)
            d2s.inputs[0] = q_in
            quantize = len(after) == 1 and codes[after[0]] == ops_enum.QUANTIZE and y not in graph_outputs
            if quantize and _same_params(sg.tensors[sg.operators[after[0]].outputs[0]], sg.tensors[q_in]):
                d2s.outputs[0] = sg.operators[after[0]].outputs[0]
                sg.operators = [op for k, op in enumerate(sg.operators) if k not in (i, after[0])]
            elif quantize:  # the depth-to-space runs int8; the QUANTIZE requantizes its output
                sg.tensors[y].type = schema.TensorType.INT8
                sg.tensors[y].quantization = copy.deepcopy(sg.tensors[q_in].quantization)
                sg.operators.pop(i)
            else:
                y_t = sg.tensors[y]
                t = schema.TensorT()
                t.shape, t.shapeSignature = copy.copy(y_t.shape), copy.copy(y_t.shapeSignature)
                t.type = schema.TensorType.INT8
                t.quantization = copy.deepcopy(sg.tensors[q_in].quantization)
                t.name = (y_t.name.decode() if isinstance(y_t.name, bytes) else str(y_t.name)) + "_int8"
                m.buffers.append(schema.BufferT())
                t.buffer = len(m.buffers) - 1
                sg.tensors.append(t)
                d2s.outputs[0] = dq.inputs[0] = len(sg.tensors) - 1
                dq.outputs[0] = y
                sg.operators.pop(i)  # i < j: the DEQUANTIZE now follows the depth-to-space
                sg.operators.insert(j, dq)
            changed = True
            break
        else:
            break
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m)) if changed else model
