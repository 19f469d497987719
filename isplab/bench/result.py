"""The record of one runtime measurement, its statistics and its rendering."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from isplab.atomic import write_text_atomic


def summarize(times_ms: list[float]) -> dict[str, Any]:
    """Median, mean, sample std, min, max and p90 (linear interpolation) of the run times."""
    ordered = sorted(times_ms)
    pos = 0.9 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return {
        "median_ms": statistics.median(ordered),
        "mean_ms": statistics.fmean(ordered),
        "std_ms": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "p90_ms": ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo),
        "times_ms": list(times_ms),
    }


@dataclass
class BenchResult:
    """One model's runtime measurement. All fields are JSON-serialisable; times in milliseconds."""

    model: str
    backend: str  #: ``litert-xnnpack-cpu`` or ``torch-cpu``
    runtime_version: str
    threads: int
    runs: int
    warmup: int
    input_shape: list[int]  #: NHWC for LiteRT, NCHW for torch
    output_shape: list[int]
    median_ms: float
    mean_ms: float
    std_ms: float
    min_ms: float
    max_ms: float
    p90_ms: float
    times_ms: list[float]
    peak_mem_mb: float | None  #: RSS high-water mark growth while loading + running the model
    process_peak_rss_mb: float | None
    memory_method: str  #: ``subprocess``, ``in-process (peak reset|lower bound)``, ``not measured (...)``
    file_size_bytes: int | None
    params: int | None = None
    op_counts: dict[str, int] | None = None  #: static op histogram of a .tflite (not timings)
    profile: list[dict[str, Any]] | None = None  #: per-op times where the runtime provides them
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BenchResult:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_json(self, path: str | Path) -> Path:
        """Write the result as JSON atomically (temp file + rename)."""
        return write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def render(self) -> str:
        """A two-column text table, plus the top ops when a profile was taken."""
        mem = "n/a" if self.peak_mem_mb is None else f"{self.peak_mem_mb:.1f} MB ({self.memory_method})"
        size = "n/a" if self.file_size_bytes is None else f"{self.file_size_bytes / 1e6:.3f} MB"
        rows = [
            ("model", self.model),
            ("backend", f"{self.backend} ({self.runtime_version}), {self.threads} threads"),
            ("input -> output", f"{self.input_shape} -> {self.output_shape}"),
            ("median", f"{self.median_ms:.2f} ms"),
            ("mean +- std", f"{self.mean_ms:.2f} +- {self.std_ms:.2f} ms"),
            ("min / p90 / max", f"{self.min_ms:.2f} / {self.p90_ms:.2f} / {self.max_ms:.2f} ms"),
            ("runs (warmup)", f"{self.runs} ({self.warmup})"),
            ("peak memory", mem),
            ("file size", size),
        ]
        lines = [f"{key:<16} {value}" for key, value in rows]
        if self.profile:
            lines += ["", "top ops by self CPU time:"]
            lines += [f"  {op['op']:<40} {op['self_ms']:9.2f} ms  x{op['calls']}" for op in self.profile[:10]]
        return "\n".join(lines)
