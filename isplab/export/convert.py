"""PyTorch model -> ``.tflite`` for the AI Benchmark app (and any TFLite runtime), optimised, proven, audited.

:func:`export_tflite` re-parameterises a copy of the model, applies the export-time graph optimiser
(:mod:`isplab.export.optimize`; rewrites into an equivalent graph that runs faster), converts it with
litert-torch, optionally quantizes (fp16 weights / int8), runs the parity proof against the *original*
model (:mod:`isplab.export.parity`) and the mobile-GPU audit (:mod:`isplab.export.audit`) on the file, and
only then renames it into place: a failed export leaves no model behind. ``nn.PReLU`` layers export as
single ``PRELU`` ops (:class:`isplab.export.wrapper.ExportPReLU`; not for int8) and internal tensor names
are shortened (:mod:`isplab.export.tensor_names`) to keep the file small.

The exported model follows AI Benchmark's custom-model conventions: one float32 input
``raw [1, H, W, 4]`` (packed Bayer, canonical ``B, G_r, R, G_b`` order, [0, 1]) and one float32 output
``rgb [1, 2H, 2W, 3]``. The default ``544 x 960`` input is the challenge's 1088 x 1920 (Full HD) frame.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from isplab.atomic import check_writable, make_temp, named_errors, publish
from isplab.camera.profile import RawDomain
from isplab.errors import IsplabError, first_line
from isplab.export.audit import AuditReport, audit_tflite
from isplab.export.optimize import optimize_for_export
from isplab.export.parity import ParityBudget, ParityReport, check_parity
from isplab.export.samples import (
    Sample,
    dataset_samples,
    packed_nhwc,
    raw_frame_samples,
    synthetic_samples,
)
from isplab.export.tensor_names import shorten_tensor_names
from isplab.export.wrapper import INPUT_NAME, OUTPUT_NAME, ExportWrapper
from isplab.raw.readers import RawImage
from isplab.runtime import FULL_HD_INPUT
from isplab.runtime.tflite_metadata import RAW_DOMAIN, add_metadata

if TYPE_CHECKING:
    from isplab.accel.verdict import AccelReport

PRECISIONS = ("fp32", "fp16", "int8")
DEFAULT_INPUT_SIZE = FULL_HD_INPUT


class ExportError(IsplabError):
    """Conversion failed, an accelerator check failed, or (with ``strict``) the exported graph will not run
    fully on a mobile GPU."""


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
    #: optimiser rewrites applied (one entry per replaced module); empty when none matched or it was off
    rewrites: list[str] = field(default_factory=list)
    #: the raw domain stored in the file (``None``: none, frames are developed as read)
    raw_domain: RawDomain | None = None
    #: the accelerator checks (``accel_check=``), None when none were asked for
    accel: AccelReport | None = None

    def render(self) -> str:
        head = (f"exported {self.path} ({self.precision}, {self.size_bytes / 1024:.1f} KiB, "
                f"{INPUT_NAME} {list(self.input_shape)} -> {OUTPUT_NAME} {list(self.output_shape)}, "
                f"{self.seconds:.1f} s)")
        rewrites = ", ".join(sorted(set(self.rewrites))) or "none applied"
        domain = (f"raw domain: {self.raw_domain.camera or 'stored'} (in the file: `isplab develop` adapts "
                  "camera frames to it)" if self.raw_domain else
                  "raw domain: none stored: `isplab develop` feeds frames as read")
        lines = [head, f"optimiser: {rewrites}", domain, self.parity.render()]
        if self.accel is not None:
            lines.append(self.accel.render())
        if self.accel is None or self.accel.gpu is None:  # the rule table only stands in for the GPU runtime
            lines.append(self.audit.render())
        return "\n".join(lines)


def reparameterize_for_export(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` in eval mode with multi-branch training blocks fused into plain convolutions
    (:func:`isplab.models.reparam.reparameterize`). The caller's model is not touched."""
    from isplab.models.reparam import reparameterize

    return reparameterize(copy.deepcopy(model).eval()).eval()


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
    from isplab.extras import require

    require("export", "converting to TFLite")
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
        if dynamic:
            raise ExportError(
                f"dynamic-size conversion failed ({first_line(exc)}). litert-torch needs concrete shapes for "
                "reshape-based pixel shuffles (nn.PixelShuffle, view/permute) and other size-dependent ops: "
                "write them with isplab.models.ops.depth_to_space (one DEPTH_TO_SPACE op, any size) or "
                "export one file per input size instead (--input-size HxW, e.g. 544x960 for Full HD)"
            ) from None
        raise ExportError(f"litert-torch could not convert the model ({exc.__class__.__name__}: "
                          f"{first_line(exc)}). Export a registered isplab model, or check its forward for "
                          "Python-side control flow on tensor values") from None


def parity_samples(input_size: tuple[int, int], parity_inputs: Iterable | None = None,
                   raw_frames: Iterable[tuple[str, RawImage]] | None = None) -> list[Sample]:
    """The proof's inputs: ``raw_frames`` (named real captures), ``parity_inputs`` (packed arrays or
    ``(packed, target)`` pairs) and two deterministic synthetic raws, all fitted to ``input_size``."""
    samples = raw_frame_samples(raw_frames or (), input_size)
    if parity_inputs is not None:
        samples += dataset_samples(parity_inputs, input_size)
    return samples + synthetic_samples(input_size)


def export_tflite(
    model: nn.Module,
    out_path: str | Path,
    input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
    precision: str = "fp32",
    calibration: Iterable | None = None,
    int8_io: bool = False,
    parity_inputs: Iterable | None = None,
    raw_frames: Iterable[tuple[str, RawImage]] | None = None,
    budget: ParityBudget | None = None,
    dynamic: bool = False,
    strict: bool = False,
    optimize: bool = True,
    raw_domain: RawDomain | None = None,
    accel_check: Callable[[], AccelReport] | None = None,
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
        raw_frames: ``(name, RawImage)`` real captures for the parity proof (e.g. read with
            :func:`isplab.raw.readers.read_raw`); fitted in packed space.
        budget: parity budget (see :mod:`isplab.export.parity`).
        dynamic: export with dynamic height and width (``[1, -1, -1, 4]``); not optimised.
        strict: fail when the model will not run fully on a mobile GPU: LiteRT's GPU runtime reports CPU
            fallback (with ``accel_check`` covering ``gpu``), else the static audit finds problems; with
            ``accel_check`` also when the HTP compile leaves ops on the CPU.
        optimize: apply the export-time graph optimiser (:mod:`isplab.export.optimize`); the fp32 proof
            then holds the file to ``budget.optimized_max_abs`` against the original model.
        raw_domain: the raw domain the model was trained in (a checkpoint's), stored in the file
            (:data:`isplab.runtime.tflite_metadata.RAW_DOMAIN`) so ``isplab develop`` adapts a camera's frames
            to it as it does for the checkpoint; ``None`` (a fresh model): frames are fed as read.
        accel_check: the accelerator check run after the parity proof, before the file is published
            (:func:`isplab.accel.check.export_check`); a wrong output, a compile error or a target without
            its toolchain fails the export.

    Raises:
        ExportError, ParityError, RewriteError: nothing is written to ``out_path`` in any case.
    """
    start = time.perf_counter()
    if precision not in PRECISIONS:
        raise IsplabError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if int8_io and precision != "int8":
        raise IsplabError(f"int8 I/O needs --precision int8 (got {precision})")
    if precision == "int8" and calibration is None:
        raise IsplabError("int8 export needs calibration data (representative training raws). "
                          "Pass calibration=... or `--calib-data DIR`")
    out_path = check_writable(out_path, "exported model")
    samples = parity_samples(input_size, parity_inputs, raw_frames)
    if dynamic:  # prove the resized graph too, at a smaller size that keeps multiples of 16
        alt = tuple(max(16, s // 2 // 16 * 16) for s in input_size)
        samples += [Sample(f"synthetic-{alt[0]}x{alt[1]}", s.packed) for s in synthetic_samples(alt, n=1)]
    was_training = model.training
    try:
        report = _export(model.eval(), out_path, input_size, precision, calibration, int8_io, samples,
                         budget or ParityBudget(), dynamic, strict, optimize and not dynamic, start, raw_domain,
                         accel_check)
        return report
    finally:
        model.train(was_training)


def _export(original: nn.Module, out_path: Path, input_size: tuple[int, int], precision: str,
            calibration: Iterable | None, int8_io: bool, samples: list[Sample], budget: ParityBudget,
            dynamic: bool, strict: bool, optimize: bool, start: float, raw_domain: RawDomain | None,
            accel_check: Callable[[], AccelReport] | None = None) -> ExportReport:
    export_model, rewrites = reparameterize_for_export(original), []
    if optimize:
        optimized = optimize_for_export(export_model, input_size, [s.packed for s in samples[:2]])
        export_model, rewrites = optimized.model, optimized.applied
        if rewrites:  # the rewrites must not change the function beyond float rounding
            budget = dataclasses.replace(budget, fp32_max_abs=min(budget.fp32_max_abs, budget.optimized_max_abs))

    # ai-edge-quantizer has no int8 PRELU: it would stay float between QUANTIZE/DEQUANTIZE pairs.
    data = convert_float(export_model, input_size, dynamic, native_prelu=precision != "int8")
    if precision == "fp16":
        from isplab.export.quantize import quantize_fp16

        data = quantize_fp16(data)
    elif precision == "int8":
        from isplab.export.quantize import quantize_int8

        data = quantize_int8(data, packed_nhwc(calibration, input_size), input_name=INPUT_NAME, int8_io=int8_io)
    # Last, so the quantizers see the converter's own names.
    data = shorten_tensor_names(data)
    if raw_domain is not None:
        data = add_metadata(data, {RAW_DOMAIN: json.dumps(raw_domain.to_dict()).encode()})

    fd, tmp_name = make_temp(out_path)
    tmp = Path(tmp_name)
    try:
        with named_errors(out_path), os.fdopen(fd, "wb") as f:
            f.write(data)
        parity = check_parity(tmp, original, samples, precision, budget)
        audit = audit_tflite(tmp)
        accel = accel_check() if accel_check else None
        failures = accel.failures(strict) if accel else []
        if failures:
            raise ExportError(f"{out_path}: the accelerator check failed ({failures[0]}; {len(failures)} "
                              "problem(s)). Fix the model or the toolchain (`isplab accel setup`), or drop --accel"
                              + (" / --strict" if strict else "") + "\n" + accel.render())
        if strict and not audit.clean and (accel is None or accel.gpu is None):
            raise ExportError(f"{out_path}: the graph will not run fully on a mobile GPU "
                              f"({audit.summary()}). Replace the flagged ops, or drop --strict\n"
                              + audit.render())
        publish(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    g = audit.graph
    in_t, out_t = g.tensors[g.inputs[0]], g.tensors[g.outputs[0]]
    return ExportReport(out_path, precision, in_t.signature, out_t.signature, len(data), parity, audit,
                        time.perf_counter() - start, rewrites, raw_domain, accel)
