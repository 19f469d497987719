"""One ``.tflite`` on the LiteRT CPU interpreter (XNNPACK delegate): load, resize, allocate, run.

:class:`LiteRTModel` is the only place isplab touches ``ai_edge_litert``'s ``Interpreter``: the export's
parity proof, ``isplab bench``, ``isplab develop`` and the latency search all run models through it.
Inputs and outputs are NHWC arrays; int8 tensors at the ends are quantized / dequantized with their own
parameters, so callers always hand in and get back float32. The interpreter is (re)allocated only when
the input shape changes, so a stream of same-sized inputs (tiles, timing runs) pays for it once.
Imports numpy and LiteRT only: no torch.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from isplab.errors import IsplabError, first_line


class LiteRTError(IsplabError):
    """A ``.tflite`` the runtime cannot load or run (bad file, op without a kernel, unsupported shape)."""


def to_tensor_dtype(x: np.ndarray, detail: dict) -> np.ndarray:
    """``x`` (float) in the dtype of the tensor ``detail`` describes, quantized with its scale/zero point."""
    if detail["dtype"] == np.float32:
        return np.asarray(x, dtype=np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(detail["dtype"])


def from_tensor_dtype(y: np.ndarray, detail: dict) -> np.ndarray:
    """A tensor's value as float32 (dequantized when the tensor is integer)."""
    if y.dtype == np.float32:
        return y
    scale, zero = detail["quantization"]
    return (y.astype(np.float32) - zero) * np.float32(scale)


class LiteRTModel:
    """A single-input, single-output ``.tflite`` (path or bytes) on ``num_threads`` CPU threads.

    ``model(x)`` runs NHWC ``x`` and returns the NHWC float32 output; :meth:`resize` + :meth:`invoke`
    are the timing path (no copies around the run).
    """

    def __init__(self, model: str | Path | bytes, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        if isinstance(model, bytes | bytearray):
            self.path, self.name, source = None, "<model bytes>", {"model_content": bytes(model)}
        else:
            self.path = Path(model)
            self.name = str(self.path)
            if not self.path.is_file():
                raise LiteRTError(f"{self.path}: no such .tflite file. Pass a file written by `isplab export`")
            source = {"model_path": str(self.path)}
        try:
            # The default (AUTO) op resolver: builtin kernels + XNNPACK; num_threads drives both.
            self.interpreter = Interpreter(num_threads=num_threads, **source)
        except (ValueError, RuntimeError) as exc:
            raise LiteRTError(f"{self.name}: the TFLite runtime cannot load this model ({first_line(exc)}). "
                              "See `isplab inspect` for the offending op, or re-export it") from None
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise LiteRTError(f"{self.name}: {len(inputs)} inputs and {len(outputs)} outputs; isplab runs "
                              "models with one input (raw [1,H,W,4]) and one output (rgb [1,2H,2W,3])")
        self.input, self.output = inputs[0], outputs[0]
        #: the file's own input shape, and the same with -1 for dynamic dimensions
        self.file_shape = tuple(int(v) for v in self.input["shape"])
        self.signature = tuple(int(v) for v in self.input.get("shape_signature", self.file_shape))
        self.op_counts = self._op_counts()
        self.input_shape: tuple[int, ...] | None = None  # allocated shape, None before the first resize

    @property
    def dynamic(self) -> bool:
        return any(v < 0 for v in self.signature)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.interpreter.get_output_details()[0]["shape"])

    def _op_counts(self) -> dict[str, int] | None:
        """Static op histogram (not timings), read before allocation so the XNNPACK delegate node is not
        listed yet. It uses a private API of the interpreter: None when that is gone."""
        try:
            return dict(Counter(op["op_name"] for op in self.interpreter._get_ops_details()))
        except Exception:  # noqa: BLE001 - optional diagnostics only
            return None

    def resize(self, shape: tuple[int, ...] | list[int]) -> None:
        """Make the input ``shape`` (NHWC) and allocate; a no-op when it already is."""
        shape = tuple(int(v) for v in shape)
        if shape == self.input_shape:
            return
        try:
            if shape != (self.input_shape or self.file_shape):
                self.interpreter.resize_tensor_input(self.input["index"], list(shape), strict=False)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            _raise_if_view_alive(exc, self.name)
            # Back to the file's shape, unallocated: the next resize starts from a consistent interpreter.
            self.interpreter.resize_tensor_input(self.input["index"], list(self.file_shape), strict=False)
            self.input_shape = None
            if shape == self.file_shape:
                raise LiteRTError(f"{self.name}: the TFLite runtime cannot prepare this model ({first_line(exc)}). "
                                  "See `isplab inspect` for the offending op, or re-export it") from None
            raise LiteRTError(f"{self.name}: cannot run at input {list(shape)} ({first_line(exc)}): the graph "
                              f"has shapes fixed at export. Use its own input size {list(self.file_shape)} "
                              "or re-export at this size") from None
        self.input_shape = shape

    def resizable(self, shape: tuple[int, ...]) -> bool:
        """Whether the graph runs at input ``shape`` (allocating there when it does). Fixed-size graphs,
        such as isplab's optimised exports (reshapes baked for one size), do not."""
        try:
            self.resize(shape)
        except LiteRTError:
            return False
        return True

    def set_input(self, x: np.ndarray) -> None:
        """Resize to ``x``'s shape when needed and copy ``x`` (quantized for int8 inputs) into the input."""
        self.resize(x.shape)
        self.interpreter.set_tensor(self.input["index"], to_tensor_dtype(x, self.input))

    def invoke(self) -> None:
        try:
            self.interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            _raise_if_view_alive(exc, self.name)
            raise LiteRTError(f"{self.name}: the TFLite runtime failed on a {list(self.input_shape or ())} "
                              f"input ({first_line(exc)})") from None

    def get_output(self) -> np.ndarray:
        """The output tensor as float32 NHWC (a copy: it survives the next run)."""
        return from_tensor_dtype(self.interpreter.get_tensor(self.output["index"]), self.output)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Run NHWC ``x``; returns the float32 NHWC output."""
        self.set_input(x)
        self.invoke()
        return self.get_output()

    def run_view(self, x: np.ndarray) -> np.ndarray:
        """Run NHWC ``x`` (any strides, e.g. a transposed view) without copies around the run: ``x`` is written
        straight into the input buffer and the output is returned as a read-only **view of the interpreter's
        buffer**, valid until the next run. Drop it before then: LiteRT refuses to run while a view is alive.
        Quantized ends fall back to :meth:`__call__` (a fresh float32 array)."""
        if self.input["dtype"] != np.float32 or self.output["dtype"] != np.float32:
            return self(x)
        self.resize(x.shape)
        buffer = self.interpreter.tensor(self.input["index"])()
        buffer[...] = x
        del buffer  # the interpreter runs only when no view of its memory is alive
        self.invoke()
        out = self.interpreter.tensor(self.output["index"])()
        out.flags.writeable = False
        return out


def _raise_if_view_alive(exc: Exception, name: str) -> None:
    """LiteRT's refusal to touch its buffers while a numpy view of them is alive, as an actionable error."""
    if "reference to internal data" in str(exc):
        raise LiteRTError(f"{name}: an output returned by run_view is still referenced; copy it (or drop it) "
                          "before the next run") from None


def run_tflite(model: str | Path | bytes, inputs: list[np.ndarray], num_threads: int = 2) -> list[np.ndarray]:
    """Each NHWC array of ``inputs`` through one interpreter; float32 NHWC outputs in the same order."""
    runner = LiteRTModel(model, num_threads)
    return [runner(x) for x in inputs]
