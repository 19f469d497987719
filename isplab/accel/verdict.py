"""What an accelerator check found: per-target verdicts, their parity rows and one report.

A verdict never passes silently: a target that could not run is an :class:`Unavailable` row with the
reason, and :meth:`AccelReport.failures` counts it as a failure wherever the caller asked for that target.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class AccelBudget:
    """How close an accelerator must stay to its reference (worst sample)."""

    fp32_max_abs: float = 1e-3  #: GPU with ``enforce_f32``
    fp16_max_abs: float = 1e-2  #: HTP fp16, GPU fp16 (MicroISP: 1.5e-3 on the HTP, 3.7e-3 on the GPU)
    fp16_min_psnr: float = 40.0
    int8_min_psnr: float = 30.0  #: HTP int8 against the CPU interpreter running the same int8 file


@dataclass
class Parity:
    """One precision's outputs against the reference, worst over the samples."""

    precision: str
    reference: str  #: "PyTorch" or "CPU LiteRT"
    max_abs: float
    psnr: float
    passed: bool
    rule: str
    problem: str = ""  #: all zeros / not finite: the runtime returned garbage with success status

    def render(self) -> str:
        mark = "ok" if self.passed else "FAIL"
        why = f", {self.problem}" if self.problem else ""
        return (f"{self.precision}: max-abs {self.max_abs:.2e}, PSNR {self.psnr:.1f} dB vs {self.reference} "
                f"({self.rule}{why}) {mark}")


def psnr_db(mse: float) -> float:
    return math.inf if mse <= 0 else 10.0 * math.log10(1.0 / mse)


def compare(precision: str, reference: str, outputs: list[np.ndarray], references: list[np.ndarray],
            budget: AccelBudget) -> Parity:
    """Worst-sample max-abs and PSNR (peak 1) of ``outputs`` against ``references``; all-zero or non-finite
    outputs fail whatever their distance."""
    problem, worst, mse = "", 0.0, 0.0
    if len(outputs) != len(references):
        problem = f"{len(outputs)} of {len(references)} outputs returned"
    for y, ref in zip(outputs, references, strict=False):
        y = np.asarray(y, np.float64).reshape(ref.shape)
        if not np.isfinite(y).all():
            problem = "non-finite outputs (NaN/inf)"
            y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
        elif not np.any(y) and np.any(ref):
            problem = "all-zero output (a buffer over the runtime's limit?)"
        worst = max(worst, float(np.abs(y - ref).max()))
        mse = max(mse, float(np.mean((y - ref) ** 2)))
    psnr = psnr_db(mse)
    if precision == "fp32":
        rule, ok = f"max-abs <= {budget.fp32_max_abs:.0e}", worst <= budget.fp32_max_abs
    elif precision == "fp16":
        rule = f"max-abs <= {budget.fp16_max_abs:.0e}, PSNR >= {budget.fp16_min_psnr:.0f} dB"
        ok = worst <= budget.fp16_max_abs and psnr >= budget.fp16_min_psnr
    else:
        rule, ok = f"PSNR >= {budget.int8_min_psnr:.0f} dB", psnr >= budget.int8_min_psnr
    return Parity(precision, reference, worst, psnr, ok and not problem, rule, problem)


@dataclass
class HtpVerdict:
    """Qualcomm HTP: compile for ``soc``, then the HTP simulator on the parity samples."""

    soc: str
    ops_offloaded: int = 0
    ops_total: int = 0
    partitions: int = 0
    compile_seconds: float = 0.0
    parity: list[Parity] = field(default_factory=list)
    error: str = ""

    @property
    def fully_compiled(self) -> bool:
        return not self.error and self.ops_total > 0 and self.ops_offloaded == self.ops_total and self.partitions == 1

    @property
    def passed(self) -> bool:
        return self.fully_compiled and bool(self.parity) and all(p.passed for p in self.parity)

    def summary(self) -> str:
        """Short cell: ``298/298 ops, 1 partition``."""
        if self.error:
            return "failed"
        return f"{self.ops_offloaded}/{self.ops_total} ops, {self.partitions} partition" + "s" * (self.partitions != 1)

    def render(self) -> str:
        head = f"HTP {self.soc}: "
        if self.error:
            return head + f"FAIL: {self.error}"
        lines = [head + f"{'fully' if self.fully_compiled else 'NOT fully'} compiled: {self.summary()} "
                        f"offloaded ({self.compile_seconds:.1f} s)"]
        lines += [f"  simulator {p.render()}" for p in self.parity]
        if self.fully_compiled and not self.parity:
            lines.append("  simulator: FAIL: no parity run")
        elif not self.fully_compiled:
            lines.append("  simulator: not run (the HTP simulator runs fully offloaded graphs only)")
        return "\n".join(lines)


@dataclass
class GpuVerdict:
    """LiteRT's GPU runtime (WebGPU on Vulkan): acceleration and parity per precision."""

    fully_accelerated: bool = False
    fallback: list[str] = field(default_factory=list)  #: the runtime's own lines: ``OP: reason``
    gpu_ops: int | None = None
    cpu_ops: int | None = None
    parity: list[Parity] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.parity) and all(p.passed for p in self.parity)

    def summary(self) -> str:
        if self.error:
            return "failed"
        if self.fully_accelerated:
            return "fully accelerated"
        ops = f"{self.cpu_ops} ops on CPU: " if self.cpu_ops is not None else ""
        return ops + "; ".join(self.fallback) if self.fallback else "partly on CPU"

    def render(self) -> str:
        if self.error:
            return f"GPU (LiteRT WebGPU): FAIL: {self.error}"
        head = "GPU (LiteRT WebGPU): " + ("fully accelerated" if self.fully_accelerated else
                                          f"NOT fully accelerated, {self.summary()}")
        return "\n".join([head, *[f"  {p.render()}" for p in self.parity]])


@dataclass
class Unavailable:
    target: str
    reason: str

    def render(self) -> str:
        return f"{self.target}: NOT CHECKED: {self.reason}"


@dataclass
class AccelReport:
    """Every requested target's verdict for one model at one tile."""

    model: str
    tile: tuple[int, int]
    htp: list[HtpVerdict] = field(default_factory=list)
    gpu: GpuVerdict | None = None
    unavailable: list[Unavailable] = field(default_factory=list)

    def failures(self, strict: bool = False) -> list[str]:
        """One line per failure: wrong outputs, compile errors and unavailable targets always; with
        ``strict`` also partial offload (HTP) and CPU fallback (GPU)."""
        out = [u.render() for u in self.unavailable]
        for h in self.htp:
            if h.error or any(not p.passed for p in h.parity) or (h.fully_compiled and not h.parity):
                out.append(h.render().splitlines()[0] if h.error else f"HTP {h.soc}: wrong outputs on the simulator")
            elif strict and not h.fully_compiled:
                out.append(f"HTP {h.soc}: not fully compiled ({h.summary()})")
        if self.gpu is not None:
            g = self.gpu
            if g.error or not g.passed:
                out.append(g.render().splitlines()[0] if g.error else "GPU: wrong outputs")
            elif strict and not g.fully_accelerated:
                out.append(f"GPU: falls back to the CPU ({g.summary()})")
        return out

    def render(self) -> str:
        lines = [f"accelerator check of {self.model} at a {self.tile[0]}x{self.tile[1]} tile:"]
        lines += [f"  {line}" for h in self.htp for line in h.render().splitlines()]
        if self.gpu is not None:
            lines += [f"  {line}" for line in self.gpu.render().splitlines()]
        lines += [f"  {u.render()}" for u in self.unavailable]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return asdict(self)

    def cells(self) -> dict[str, str]:
        """Table cells: HTP compiled, HTP parity, GPU accelerated, GPU parity (``-`` when not checked)."""
        down = {u.target.split(":")[0].lower(): "not checked" for u in self.unavailable}
        htp = self.htp[0] if self.htp else None
        cells = {"HTP compiled": htp.summary() if htp else down.get("htp", "-"),
                 "HTP parity": _parity_cell(htp.parity, htp.error) if htp else down.get("htp", "-"),
                 "GPU": self.gpu.summary() if self.gpu else down.get("gpu", "-"),
                 "GPU parity": _parity_cell(self.gpu.parity, self.gpu.error) if self.gpu else down.get("gpu", "-")}
        return cells


def _parity_cell(rows: list[Parity], error: str) -> str:
    if error:
        return "failed"
    if not rows:
        return "not run"
    return ", ".join(f"{p.precision} {p.psnr:.1f} dB" + ("" if p.passed else " FAIL") for p in rows)
