"""Parity proof: run the exported ``.tflite`` and the PyTorch model on the same inputs and compare.

Inputs (all packed ``(4, h, w)`` float32 in [0, 1], fitted to the model's input size):

* real raw frames (:func:`real_raw_samples`, e.g. ``shared/data/real-raw``): packed first, then centre
  cropped or reflect padded *in packed space*, so the Bayer phase never shifts;
* dataset patches with their targets (:func:`dataset_samples`), fitted the same way;
* deterministic synthetic raws (:func:`synthetic_samples`).

Metrics are taken on each sample's valid (unpadded) region, RGB outputs compared as float32:

* ``max_abs``: largest ``|tflite - torch|`` over all samples;
* ``psnr_vs_torch``: PSNR of the TFLite output against the PyTorch output (peak 1, MSE pooled over samples);
* with targets, ``loss`` in dB = ``PSNR(torch, target) - PSNR(tflite, target)`` (outputs clipped to
  [0, 1] as saved images are, MSE pooled over the samples that have a target).

Pass rules (:class:`Budgets`):

* **fp32**: ``max_abs <= fp32_max_abs`` (1e-3, a quarter of an 8-bit code). Conversion must not change the
  function; what remains is float re-association between kernels, which grows with depth and weight size
  (a trained pynetv2_mobile: mean 8e-6, max 2.5e-4 at Full HD). A conversion bug (channel order, padding,
  a corrupted weight) is far above it.
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
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from isplab.errors import IsplabError, first_line
from isplab.models.ops import finest_output
from isplab.raw.bayer import MAI_WHITE_LEVEL


class ParityError(IsplabError):
    """The exported model does not compute what the PyTorch model computes (within budget)."""


@dataclass(frozen=True)
class Budgets:
    fp32_max_abs: float = 1e-3
    fp16_psnr_loss: float = 0.1  #: dB
    int8_psnr_loss: float = 1.0  #: dB
    reference_psnr: float = 24.0  #: dB, assumed model fidelity when no target is given

    def loss_budget(self, precision: str) -> float:
        return {"fp16": self.fp16_psnr_loss, "int8": self.int8_psnr_loss}[precision]

    def min_psnr_vs_torch(self, precision: str) -> float:
        """Smallest ``PSNR(tflite, torch)`` that keeps the target PSNR loss within budget (see module doc)."""
        return self.reference_psnr - 10 * math.log10(10 ** (self.loss_budget(precision) / 10) - 1)


@dataclass
class Sample:
    """One packed input ``(4, h, w)``, its optional target ``(3, 2h, 2w)`` and valid box ``(y0, y1, x0, x1)``
    in packed pixels."""

    name: str
    packed: np.ndarray
    target: np.ndarray | None = None
    valid: tuple[int, int, int, int] | None = None


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
    budgets: Budgets = field(default_factory=Budgets)
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


# ---- inputs -------------------------------------------------------------------------------------------


def fit_packed(packed: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Centre-crop or reflect-pad packed ``(C, h, w)`` to ``size``; return it and the valid box."""
    out, box = packed, [0, size[0], 0, size[1]]
    pads = []
    for axis, want in ((1, size[0]), (2, size[1])):
        have = out.shape[axis]
        if have >= want:
            start = (have - want) // 2
            out = out.take(range(start, start + want), axis=axis)
            pads.append((0, 0))
        else:
            before = (want - have) // 2
            pads.append((before, want - have - before))
            box[2 * (axis - 1)], box[2 * (axis - 1) + 1] = before, before + have
    if any(p != (0, 0) for p in pads):
        out = np.pad(out, [(0, 0), *pads], mode="reflect")
    return np.ascontiguousarray(out, dtype=np.float32), tuple(box)  # type: ignore[return-value]


def _fit_target(target: np.ndarray, packed_shape: tuple[int, int], size: tuple[int, int],
                box: tuple[int, int, int, int]) -> np.ndarray:
    """Crop ``target`` (3, 2h, 2w) like :func:`fit_packed` cropped its raw; padded areas are left out."""
    y0 = max(packed_shape[0] - size[0], 0) // 2 * 2
    x0 = max(packed_shape[1] - size[1], 0) // 2 * 2
    h, w = box[1] - box[0], box[3] - box[2]
    return np.ascontiguousarray(target[:, y0:y0 + 2 * h, x0:x0 + 2 * w], dtype=np.float32)


def synthetic_samples(size: tuple[int, int], n: int = 2, seed: int = 0) -> list[Sample]:
    """Deterministic raw-like inputs: smooth colour fields with edges and noise, mostly dark like raw data."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.meshgrid(np.linspace(0, 1, h, dtype=np.float32), np.linspace(0, 1, w, dtype=np.float32),
                         indexing="ij")
    out = []
    for i in range(n):
        planes = []
        for c in range(4):
            f = rng.uniform(1, 6, size=2)
            base = 0.25 + 0.2 * np.sin(2 * np.pi * (f[0] * yy + f[1] * xx) + rng.uniform(0, 6.3))
            base = base * (0.5 + 0.5 * (xx > rng.uniform(0.2, 0.8)))  # a hard edge
            planes.append(base * (0.6 if c in (0, 2) else 1.0))
        raw = np.stack(planes) + rng.normal(0, 0.02, size=(4, h, w))
        out.append(Sample(f"synthetic-{i}", np.clip(raw, 0, 1).astype(np.float32)))
    return out


#: Files whose format their name does not tell (see ``shared/data/real-raw/README.md``).
_KNOWN_RAWS = {"halide-bayer_small.png": {"cfa": "GRBG", "white": 1023}}


def real_raw_samples(folder: str | Path, size: tuple[int, int]) -> list[Sample]:
    """Every readable raw frame in ``folder``: ``.raw`` dumps named ``...-<W>x<H>-<cfa>-<bits>bit.raw``
    and 16-bit ``.png`` mosaics; 10-bit data divided by 1020 (the MAI convention), others by
    ``2**bits - 1``. Frames are packed, then fitted to ``size`` (packed pixels)."""
    from isplab.raw.readers import read_headerless_raw, read_png_mosaic

    samples = []
    for path in sorted(Path(folder).iterdir()):
        name = path.name.lower()
        cfa = re.search(r"(rggb|bggr|grbg|gbrg)", name)
        if path.suffix.lower() == ".raw":
            geo, bits = re.search(r"(\d+)x(\d+)", name), re.search(r"(\d+)-?bit", name)
            if not geo:
                continue
            depth = int(bits.group(1)) if bits else 10
            image = read_headerless_raw(
                path, int(geo.group(1)), int(geo.group(2)), depth, cfa.group(1) if cfa else "RGGB",
                white=MAI_WHITE_LEVEL if depth == 10 else None,
            )
        elif path.suffix.lower() == ".png":
            opts = _KNOWN_RAWS.get(path.name, {"cfa": cfa.group(1) if cfa else "RGGB"})
            image = read_png_mosaic(path, **opts)
        else:
            continue
        packed, box = fit_packed(image.packed(), size)
        samples.append(Sample(path.name, packed, valid=box))
    return samples


def dataset_samples(items: Iterable, size: tuple[int, int], limit: int | None = None) -> list[Sample]:
    """Samples from packed arrays or ``(packed, target)`` pairs (numpy or torch), fitted to ``size``."""
    out = []
    for i, item in enumerate(items):
        if limit is not None and i >= limit:
            break
        packed, target = (item[0], item[1]) if isinstance(item, tuple | list) else (item, None)
        packed = _numpy(packed)
        fitted, box = fit_packed(packed, size)
        tgt = None if target is None else _fit_target(_numpy(target), packed.shape[1:], size, box)
        out.append(Sample(f"data-{i}", fitted, tgt, box))
    return out


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


# ---- running ------------------------------------------------------------------------------------------


def run_tflite(model: str | Path | bytes, inputs: Sequence[np.ndarray], num_threads: int = 2
               ) -> list[np.ndarray]:
    """Run a single-input single-output ``.tflite`` on NHWC float32 arrays; returns float32 NHWC outputs.

    int8 I/O is quantized / dequantized with the tensors' own parameters; dynamic inputs are resized.
    """
    from ai_edge_litert.interpreter import Interpreter

    content = Path(model).read_bytes() if isinstance(model, str | Path) else bytes(model)
    try:
        interp = Interpreter(model_content=content, num_threads=num_threads)
    except (ValueError, RuntimeError) as exc:  # e.g. an op without a kernel in this runtime
        raise ParityError(f"the TFLite runtime cannot load the exported model: {first_line(exc)}. "
                          "See `isplab inspect` for the offending op") from None
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    results, shape = [], None
    for x in inputs:
        try:
            if shape != x.shape:
                if tuple(inp["shape"]) != x.shape:
                    interp.resize_tensor_input(inp["index"], list(x.shape), strict=False)
                interp.allocate_tensors()
                shape = x.shape
            interp.set_tensor(inp["index"], to_tensor_dtype(x, inp))
            interp.invoke()
        except (ValueError, RuntimeError) as exc:
            raise ParityError(f"the TFLite runtime failed on a {list(x.shape)} input: "
                              f"{first_line(exc)}") from None
        y = interp.get_tensor(interp.get_output_details()[0]["index"])
        if y.dtype != np.float32:
            scale, zero = out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        results.append(np.array(y, dtype=np.float32))
    return results


def to_tensor_dtype(x: np.ndarray, detail: dict) -> np.ndarray:
    if detail["dtype"] == np.float32:
        return x.astype(np.float32)
    scale, zero = detail["quantization"]
    info = np.iinfo(detail["dtype"])
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(detail["dtype"])


@torch.no_grad()
def run_torch(model: nn.Module, packed: np.ndarray) -> np.ndarray:
    """Packed ``(4, h, w)`` -> NHWC ``(1, 2h, 2w, 3)`` float32 from the (eval-mode) PyTorch model."""
    y = finest_output(model(torch.from_numpy(packed)[None]))
    return y.permute(0, 2, 3, 1).float().numpy()


# ---- the check ----------------------------------------------------------------------------------------


def check_parity(
    tflite: str | Path | bytes,
    model: nn.Module,
    samples: Sequence[Sample],
    precision: str = "fp32",
    budgets: Budgets | None = None,
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
    budgets = budgets or Budgets()
    model = model.eval()
    outs = run_tflite(tflite, [s.packed.transpose(1, 2, 0)[None] for s in samples])
    results, sq_torch, n_torch = [], 0.0, 0
    lo, hi = math.inf, -math.inf
    tgt_sq = [0.0, 0.0]
    n_tgt = 0
    for s, lite in zip(samples, outs, strict=True):
        ref = run_torch(model, s.packed)
        if ref.shape != lite.shape:
            raise ParityError(f"output shape {lite.shape} of the .tflite differs from PyTorch's {ref.shape}")
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
