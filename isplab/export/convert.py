"""PyTorch model -> ``.tflite`` for the AI Benchmark app (and any TFLite runtime), proven and audited.

``nn.PReLU`` layers export as single ``PRELU`` ops (:class:`isplab.export.wrapper.ExportPReLU`; not for int8)
and internal tensor names are shortened (:mod:`isplab.export.compact`) to keep the file small.

:func:`export_tflite` converts with litert-torch, optionally quantizes (fp16 weights / int8), runs the
parity proof (:mod:`isplab.export.parity`) and the mobile-GPU audit (:mod:`isplab.export.audit`) on the
file, and only then renames it into place: a failed export leaves no model behind.

The exported model follows AI Benchmark's custom-model conventions: one float32 input
``raw [1, H, W, 4]`` (packed Bayer, canonical ``B, G_r, R, G_b`` order, [0, 1]) and one float32 output
``rgb [1, 2H, 2W, 3]``. The default ``544 x 960`` input is the challenge's 1088 x 1920 (Full HD) frame.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from isplab.errors import IsplabError
from isplab.export.audit import AuditReport, audit_tflite
from isplab.export.compact import shorten_tensor_names
from isplab.export.parity import (
    Budgets,
    ParityReport,
    Sample,
    check_parity,
    dataset_samples,
    fit_packed,
    real_raw_samples,
    synthetic_samples,
)
from isplab.export.wrapper import INPUT_NAME, OUTPUT_NAME, ExportWrapper

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_INPUT_SIZE = (544, 960)
#: Real raw frames used in every parity proof when present.
REAL_RAW_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-raw"


class ExportError(IsplabError):
    """Conversion failed, or (with ``strict``) the exported graph will not run fully on a mobile GPU."""


@dataclass
class ExportReport:
    path: Path
    precision: str
    input_shape: tuple[int, ...]  #: ``(1, H, W, 4)``, ``-1`` for dynamic dimensions
    output_shape: tuple[int, ...]
    size_bytes: int
    parity: ParityReport
    audit: AuditReport
    seconds: float

    def render(self) -> str:
        head = (f"exported {self.path} ({self.precision}, {self.size_bytes / 1024:.1f} KiB, "
                f"{INPUT_NAME} {list(self.input_shape)} -> {OUTPUT_NAME} {list(self.output_shape)}, "
                f"{self.seconds:.1f} s)")
        return "\n".join([head, self.parity.render(), self.audit.render()])


def reparameterize_for_export(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode, re-parameterized when :mod:`isplab.models.reparam` exists
    (multi-branch training blocks fused into plain convolutions). The caller's model is not touched."""
    model = copy.deepcopy(model).eval()
    try:
        from isplab.models.reparam import reparameterize
    except ModuleNotFoundError as exc:
        if exc.name != "isplab.models.reparam":
            raise
        return model
    return reparameterize(model).eval()


@contextlib.contextmanager
def _quiet_converter():
    """litert-torch prints a progress line per stage; its switch is an environment variable."""
    key = "LITERT_TORCH_SHOW_PROGRESS"
    before = os.environ.get(key)
    os.environ[key] = "n"
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if before is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = before


def convert_float(model: nn.Module, input_size: tuple[int, int], dynamic: bool = False,
                  native_prelu: bool = True) -> bytes:
    """Convert an eval-mode NCHW isplab model to float32 ``.tflite`` bytes with NHWC named I/O.

    ``native_prelu`` exports each ``nn.PReLU`` as one ``PRELU`` op; without it litert-torch decomposes
    it into ``RELU``, ``SUB`` and two ``MUL`` (what int8 needs: ai-edge-quantizer cannot quantize PRELU).

    Raises:
        ExportError: the converter failed; for ``dynamic`` the message explains the fixed-size fallback.
    """
    import litert_torch

    from isplab.export.lowerings import register_lowerings

    register_lowerings()
    wrapper = ExportWrapper(model, native_prelu).eval()
    sample = torch.rand(1, *input_size, 4)
    dynamic_shapes = None
    if dynamic:
        h, w = torch.export.Dim("height", min=2), torch.export.Dim("width", min=2)
        dynamic_shapes = {INPUT_NAME: {1: h, 2: w}}
    try:
        with _quiet_converter(), torch.no_grad():
            edge = litert_torch.convert(wrapper, sample_args=(), sample_kwargs={INPUT_NAME: sample},
                                        dynamic_shapes=dynamic_shapes)
            return bytes(edge.model_content())
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else exc.__class__.__name__
        if dynamic:
            raise ExportError(
                f"dynamic-size conversion failed ({first}). litert-torch needs concrete shapes for "
                "reshape-based pixel shuffles (nn.PixelShuffle, view/permute) and other size-dependent ops: "
                "write them with isplab.models.ops.depth_to_space (one DEPTH_TO_SPACE op, any size) or "
                "export one file per input size instead (--input-size HxW, e.g. 544x960 for Full HD)"
            ) from None
        raise ExportError(f"litert-torch could not convert the model ({exc.__class__.__name__}: {first}). "
                          "Export a registered isplab model, or check its forward for Python-side control "
                          "flow on tensor values") from None


def default_samples(input_size: tuple[int, int], parity_inputs: Iterable | None = None,
                    real_raw_dir: str | Path | None = REAL_RAW_DIR) -> list[Sample]:
    """Parity inputs: the real raw frames (when the folder exists), ``parity_inputs`` (packed arrays or
    ``(packed, target)`` pairs) and two deterministic synthetic raws."""
    samples: list[Sample] = []
    if real_raw_dir is not None and Path(real_raw_dir).is_dir():
        samples += real_raw_samples(real_raw_dir, input_size)
    if parity_inputs is not None:
        samples += dataset_samples(parity_inputs, input_size)
    return samples + synthetic_samples(input_size)


def calibration_arrays(calibration: Iterable, input_size: tuple[int, int]) -> list[np.ndarray]:
    """NHWC ``(1, H, W, 4)`` arrays from packed arrays / ``(packed, target)`` pairs, fitted to the input."""
    out = []
    for item in calibration:
        packed = item[0] if isinstance(item, tuple | list) else item
        packed = packed.detach().cpu().numpy() if isinstance(packed, torch.Tensor) else np.asarray(packed)
        out.append(fit_packed(packed, input_size)[0].transpose(1, 2, 0)[None])
    return out


def export_tflite(
    model: nn.Module,
    out_path: str | Path,
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
    precision: str = "fp32",
    calibration: Iterable | None = None,
    int8_io: bool = False,
    parity_inputs: Iterable | None = None,
    budgets: Budgets | None = None,
    dynamic: bool = False,
    strict: bool = False,
    real_raw_dir: str | Path | None = REAL_RAW_DIR,
) -> ExportReport:
    """Convert ``model`` to ``out_path`` and prove it.

    Args:
        model: an isplab model (NCHW packed raw -> RGB); multi-output models export their finest output.
        input_size: packed input ``(H, W)``; the output is ``(2H, 2W)``. With ``dynamic`` it is only the
            tracing and parity size.
        precision: ``fp32``, ``fp16`` (float16 weights) or ``int8`` (full integer, needs ``calibration``).
        calibration: representative packed inputs (arrays or ``(packed, target)`` pairs), e.g. training
            patches; fitted to ``input_size`` by centre crop / reflect pad.
        int8_io: int8 input and output tensors instead of float32 (int8 only).
        parity_inputs: extra parity samples; pairs with targets make fp16/int8 budgets target-based.
        budgets: parity budgets (see :mod:`isplab.export.parity`).
        dynamic: export with dynamic height and width (``[1, -1, -1, 4]``).
        strict: fail when the mobile-GPU audit finds problems.
        real_raw_dir: real raw frames for the parity proof (skipped when missing or ``None``).

    Raises:
        ExportError, ParityError: nothing is written to ``out_path`` in either case.
    """
    start = time.perf_counter()
    if precision not in PRECISIONS:
        raise IsplabError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if int8_io and precision != "int8":
        raise IsplabError(f"int8 I/O needs --precision int8 (got {precision})")
    if precision == "int8" and calibration is None:
        raise IsplabError("int8 export needs calibration data (representative training raws). "
                          "Pass calibration=... or `--calib-data DIR`")
    out_path = Path(out_path)
    if not out_path.parent.is_dir():
        raise IsplabError(f"{out_path.parent}: output folder does not exist. Create it first")
    was_training = model.training
    try:
        return _export(model.eval(), out_path, input_size, precision, calibration, int8_io, parity_inputs,
                       budgets, dynamic, strict, real_raw_dir, start)
    finally:
        model.train(was_training)


def _export(original: nn.Module, out_path: Path, input_size: tuple[int, int], precision: str,
            calibration: Iterable | None, int8_io: bool, parity_inputs: Iterable | None,
            budgets: Budgets | None, dynamic: bool, strict: bool, real_raw_dir: str | Path | None,
            start: float) -> ExportReport:
    export_model = reparameterize_for_export(original)

    # ai-edge-quantizer has no int8 PRELU: it would stay float between QUANTIZE/DEQUANTIZE pairs.
    data = convert_float(export_model, input_size, dynamic, native_prelu=precision != "int8")
    if precision == "fp16":
        from isplab.export.quantize import quantize_fp16

        data = quantize_fp16(data)
    elif precision == "int8":
        from isplab.export.quantize import quantize_int8

        data = quantize_int8(data, calibration_arrays(calibration, input_size), input_name=INPUT_NAME,
                             int8_io=int8_io)
    # Last, so the quantizers see the converter's own names.
    data = shorten_tensor_names(data)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        samples = default_samples(input_size, parity_inputs, real_raw_dir)
        if dynamic:  # prove the resized graph too, at a smaller size that keeps multiples of 16
            alt = tuple(max(16, s // 2 // 16 * 16) for s in input_size)
            samples += [Sample(f"synthetic-{alt[0]}x{alt[1]}", s.packed) for s in synthetic_samples(alt, n=1)]
        parity = check_parity(tmp, original, samples, precision, budgets)
        audit = audit_tflite(tmp)
        if strict and not audit.clean:
            raise ExportError(f"{out_path}: the graph will not run fully on a mobile GPU "
                              f"({audit.summary()}). Replace the flagged ops, or drop --strict\n"
                              + audit.render())
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    g = audit.graph
    in_t, out_t = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    return ExportReport(out_path, precision, in_t.signature, out_t.signature, len(data), parity, audit,
                        time.perf_counter() - start)
