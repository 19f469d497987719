"""Parity proof: run the exported ``.tflite`` and the PyTorch model on the same inputs and compare.

Inputs are :class:`~isplab.export.samples.Sample` s (raw frames, dataset patches, synthetic raws; see
:mod:`isplab.export.samples`). Metrics are taken on each sample's valid (unpadded) region, RGB outputs
compared as float32:

* ``max_abs``: largest ``|tflite - torch|`` over all samples;
* ``psnr_vs_torch``: PSNR of the TFLite output against the PyTorch output (peak 1, MSE pooled over samples);
* with targets, ``loss`` in dB = ``PSNR(torch, target) - PSNR(tflite, target)`` (outputs clipped to
  [0, 1] as saved images are, MSE pooled over the samples that have a target).

Pass rules (:class:`ParityBudget`):

* **fp32**: ``max_abs <= fp32_max_abs`` (1e-3, a quarter of an 8-bit code). Conversion must not change the
  function; what remains is float re-association between kernels, which grows with depth and weight size
  (a trained pynetv2_mobile: mean 8e-6, max 2.5e-4 at Full HD). A conversion bug (channel order, padding,
  a corrupted weight) is far above it. When the export optimiser rewrote the graph, the file is held to
  ``optimized_max_abs`` (1e-5) against the original model.
* **fp16 / int8** lose at most a PSNR budget (0.1 dB / 1.0 dB). With targets the loss above is checked
  directly. Without targets it cannot be measured, so it is bounded: quantization adds error of MSE
  ``e`` to a model whose own MSE to the target is ``m``; the PSNR drop is ``10 log10(1 + e / m)``,
  which stays within budget ``b`` while ``PSNR(tflite, torch) >= P_ref - 10 log10(10**(b/10) - 1)``,
  with ``P_ref`` = ``reference_psnr`` (24 dB, the top MAI 2022 fidelity; a better model is held to a
  stricter bound). For 0.1 dB that asks >= 40.3 dB, for 1.0 dB >= 29.9 dB.

The TFLite side runs on the CPU interpreter (XNNPACK, float32 compute): it checks the file's weights
and graph, not the GPU's fp16 arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from isplab.errors import IsplabError
from isplab.export.samples import Sample
from isplab.models.ops import finest_output
from isplab.runtime.litert import LiteRTError, run_tflite


class ParityError(IsplabError):
    """The exported model does not compute what the PyTorch model computes (within budget)."""


@dataclass(frozen=True)
class ParityBudget:
    fp32_max_abs: float = 1e-3
    optimized_max_abs: float = 1e-5  #: fp32 bound when the export optimiser rewrote the graph
    fp16_psnr_loss: float = 0.1  #: dB
    int8_psnr_loss: float = 1.0  #: dB
    reference_psnr: float = 24.0  #: dB, assumed model fidelity when no target is given

    def __post_init__(self) -> None:
        for value, option in ((self.fp32_max_abs, "--fp32-tol"), (self.optimized_max_abs, "optimized_max_abs"),
                              (self.fp16_psnr_loss, "--fp16-budget"), (self.int8_psnr_loss, "--int8-budget")):
            if not value > 0:  # also NaN
                raise IsplabError(f"{option} {value}: a parity budget must be > 0. Pass a positive value "
                                  "(or leave the default)")

    def loss_budget(self, precision: str) -> float:
        return {"fp16": self.fp16_psnr_loss, "int8": self.int8_psnr_loss}[precision]

    def min_psnr_vs_torch(self, precision: str) -> float:
        """Smallest ``PSNR(tflite, torch)`` that keeps the target PSNR loss within budget (see module doc)."""
        return self.reference_psnr - 10 * math.log10(10 ** (self.loss_budget(precision) / 10) - 1)


@dataclass(frozen=True)
class SampleResult:
    name: str
    max_abs: float
    psnr_vs_torch: float
    psnr_torch_target: float | None = None
    psnr_tflite_target: float | None = None


@dataclass
class ParityReport:
    precision: str
    samples: list[SampleResult]
    max_abs: float
    psnr_vs_torch: float
    #: ``PSNR(torch, target) - PSNR(tflite, target)`` in dB over samples with targets, else ``None``.
    target_loss: float | None
    rule: str  #: the pass rule that was applied, in words
    passed: bool
    budgets: ParityBudget = field(default_factory=ParityBudget)
    #: the PyTorch output was constant on every sample (e.g. a fresh model): the proof cannot see weights
    vacuous: bool = False

    def render(self) -> str:
        lines = [f"parity ({self.precision}): {'PASS' if self.passed else 'FAIL'} - {self.rule}"]
        lines.append(f"  {'sample':<40} {'max-abs':>10} {'PSNR vs torch':>14} {'torch/tflite vs target':>24}")
        for s in self.samples:
            tgt = ("" if s.psnr_torch_target is None
                   else f"{s.psnr_torch_target:.2f} / {s.psnr_tflite_target:.2f} dB")
            lines.append(f"  {s.name[:40]:<40} {s.max_abs:>10.2e} {_db(s.psnr_vs_torch):>14} {tgt:>24}")
        summary = f"  all: max-abs {self.max_abs:.2e}, PSNR vs torch {_db(self.psnr_vs_torch)}"
        if self.target_loss is not None:
            summary += f", loss vs target {self.target_loss:+.3f} dB"
        lines.append(summary)
        if self.vacuous:
            lines.append("  warning: the PyTorch output is constant on every sample, so this proof cannot "
                         "see the weights (untrained model?)")
        return "\n".join(lines)


def _db(value: float) -> str:
    return "inf dB" if math.isinf(value) else f"{value:.2f} dB"


def psnr_from_mse(mse: float) -> float:
    return math.inf if mse <= 0 else -10 * math.log10(mse)


# ---- the check ----------------------------------------------------------------------------------------


@torch.no_grad()
def run_torch(model: nn.Module, packed: np.ndarray) -> np.ndarray:
    """Packed ``(4, h, w)`` -> NHWC ``(1, 2h, 2w, 3)`` float32 from the (eval-mode) PyTorch model."""
    y = finest_output(model(torch.from_numpy(packed)[None]))
    return y.permute(0, 2, 3, 1).float().numpy()


def check_parity(
    tflite: str | Path | bytes,
    model: nn.Module,
    samples: Sequence[Sample],
    precision: str = "fp32",
    budgets: ParityBudget | None = None,
    raise_on_failure: bool = True,
) -> ParityReport:
    """Compare ``tflite`` with ``model`` on ``samples`` under the rules of the module docstring.

    Raises:
        ParityError: the rule for ``precision`` is violated (unless ``raise_on_failure`` is false).
    """
    if precision not in ("fp32", "fp16", "int8"):
        raise IsplabError(f"unknown precision {precision!r}; use fp32, fp16 or int8")
    if not samples:
        raise IsplabError("parity check needs at least one input sample")
    budgets = budgets or ParityBudget()
    model = model.eval()
    try:
        outs = run_tflite(tflite, [s.packed.transpose(1, 2, 0)[None] for s in samples])
    except LiteRTError as exc:  # a file the runtime cannot run computes nothing: the proof fails
        raise ParityError(str(exc)) from None
    results, sq_torch, n_torch = [], 0.0, 0
    lo, hi = math.inf, -math.inf
    tgt_sq = [0.0, 0.0]
    n_tgt = 0
    for s, lite in zip(samples, outs, strict=True):
        ref = run_torch(model, s.packed)
        if ref.shape != lite.shape:
            raise ParityError(f"output shape {lite.shape} of the .tflite differs from PyTorch's {ref.shape}")
        for side, out in (("the PyTorch model", ref), ("the converted .tflite", lite)):
            if not np.isfinite(out).all():
                raise ParityError(f"{side} computes NaN/inf on sample {s.name}; nothing was written. Its weights "
                                  "are broken (or overflow): re-train, or export another checkpoint")
        y0, y1, x0, x1 = s.valid or (0, s.packed.shape[1], 0, s.packed.shape[2])
        ref, lite = ref[0, 2 * y0:2 * y1, 2 * x0:2 * x1], lite[0, 2 * y0:2 * y1, 2 * x0:2 * x1]
        lo, hi = min(lo, float(ref.min())), max(hi, float(ref.max()))
        diff = lite.astype(np.float64) - ref
        sq_torch, n_torch = sq_torch + float(np.sum(diff**2)), n_torch + diff.size
        row = SampleResult(s.name, float(np.max(np.abs(diff))), psnr_from_mse(float(np.mean(diff**2))))
        if s.target is not None:
            tgt = s.target.transpose(1, 2, 0).astype(np.float64)
            e_t = np.sum((np.clip(ref, 0, 1) - tgt) ** 2)
            e_l = np.sum((np.clip(lite, 0, 1) - tgt) ** 2)
            tgt_sq, n_tgt = [tgt_sq[0] + e_t, tgt_sq[1] + e_l], n_tgt + tgt.size
            row = SampleResult(row.name, row.max_abs, row.psnr_vs_torch,
                               psnr_from_mse(e_t / tgt.size), psnr_from_mse(e_l / tgt.size))
        results.append(row)
    max_abs = max(r.max_abs for r in results)
    psnr_torch = psnr_from_mse(sq_torch / n_torch)
    loss = None
    if n_tgt:
        loss = psnr_from_mse(tgt_sq[0] / n_tgt) - psnr_from_mse(tgt_sq[1] / n_tgt)
        if math.isnan(loss):  # both perfect (inf - inf)
            loss = 0.0
    if precision == "fp32":
        passed, rule = max_abs <= budgets.fp32_max_abs, f"max-abs {max_abs:.2e} <= {budgets.fp32_max_abs:.0e}"
    elif loss is not None:
        b = budgets.loss_budget(precision)
        passed, rule = loss <= b, f"PSNR loss vs target {loss:+.3f} dB <= {b} dB"
    else:
        need = budgets.min_psnr_vs_torch(precision)
        passed = psnr_torch >= need
        rule = (f"PSNR vs torch {_db(psnr_torch)} >= {need:.1f} dB (no targets: bound for a "
                f"{budgets.loss_budget(precision)} dB loss at {budgets.reference_psnr:g} dB fidelity)")
    report = ParityReport(precision, results, max_abs, psnr_torch, loss,
                          rule if passed else rule.replace("<=", "exceeds").replace(">=", "is below"),
                          passed, budgets, vacuous=hi - lo < 1e-6)
    if not passed and raise_on_failure:
        raise ParityError(f"the {precision} .tflite does not match the PyTorch model: {report.rule}. "
                          "Check the conversion (or relax the budget if this loss is acceptable)")
    return report
