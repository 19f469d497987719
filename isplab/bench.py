"""CPU runtime benchmarks: LiteRT (XNNPACK) for ``.tflite`` files, eager torch for models/checkpoints.

Timing: ``warmup`` untimed runs, then ``runs`` timed runs of inference alone (``invoke()`` / ``forward``)
on one random input set beforehand; statistics are over the timed runs.

Memory: ``peak_mem_mb`` is the growth of the RSS high-water mark from just before the model is loaded
to the end of the timed runs: what the model needs on top of Python and the runtime libraries.
``process_peak_rss_mb`` is the whole (sub)process's peak. By default each benchmark runs in a fresh
Python subprocess (``isolate=True``), which also keeps the caller's threads and allocations out of the
timings. On Linux the peak is ``VmHWM``, reset to the current RSS before loading
(``/proc/self/clear_refs``), so in-process figures are exact too (``memory_method`` "in-process (peak
reset)"); without that reset an in-process figure is only a lower bound (a higher earlier peak hides the
model's), flagged "in-process (lower bound)". ``ru_maxrss`` is not used on Linux: it survives ``exec``,
so a subprocess would inherit its parent's peak.

Op-level profile: the LiteRT Python interpreter (ai-edge-litert 2.3) exposes no profiler -- its
``Interpreter`` has no profiling hooks and ``CompiledModel`` none either -- so ``bench_tflite`` reports
``profile: None``. ``op_counts`` is a static histogram of the file's ops, not timings. ``bench_torch``
with ``profile=True`` fills ``profile`` from ``torch.profiler`` (top ops by self CPU time).

Input sizes are ``(H, W)`` of the packed raw input: ``.tflite`` ``[1, H, W, 4]`` (NHWC), torch
``(1, 4, H, W)``; outputs are twice that size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from torch import nn

from isplab import _bench_worker as core
from isplab.atomic import write_text_atomic
from isplab.errors import IsplabError

#: The report's Table 1 runtimes are at Full HD output (1920x1088), i.e. a 544x960 packed raw input.
DEFAULT_INPUT_SIZE = (544, 960)


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


def _check_counts(threads: int, runs: int, warmup: int) -> None:
    if threads < 1 or runs < 1 or warmup < 0:
        raise IsplabError(f"bad benchmark settings threads={threads} runs={runs} warmup={warmup}: "
                          "need threads >= 1, runs >= 1, warmup >= 0")


def _size(input_size: tuple[int, int] | None) -> list[int] | None:
    if input_size is None:
        return None
    h, w = (int(v) for v in input_size)
    if h < 1 or w < 1:
        raise IsplabError(f"bad input size {h}x{w}: both sides must be positive, e.g. 544x960")
    return [h, w]


def _run_isolated(spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``_bench_worker`` in a fresh interpreter (``-P``: don't put isplab/ itself on sys.path)."""
    with tempfile.TemporaryDirectory(prefix="isplab-bench-") as tmp:
        spec_path, out = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**spec, "out": str(out)}))
        proc = subprocess.run([sys.executable, "-P", core.__file__, str(spec_path)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if not out.is_file():  # crashed (e.g. killed for memory) before writing its answer
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise IsplabError(f"{spec['path']}: benchmark subprocess failed (exit {proc.returncode}: "
                              f"{tail}). Retry with a smaller --input-size or fewer --threads")
        payload = json.loads(out.read_text())
    if "error" in payload:
        raise IsplabError(payload["error"])
    return payload["result"]


def bench_tflite(path: str | Path, input_size: tuple[int, int] | None = DEFAULT_INPUT_SIZE, threads: int = 2,
                 runs: int = 10, warmup: int = 2, profile: bool = False, isolate: bool = True) -> BenchResult:
    """Time a ``.tflite`` file with the LiteRT interpreter on CPU (XNNPACK, ``threads`` threads).

    Args:
        path: float32 model taking NHWC ``[1, H, W, 4]``.
        input_size: ``(H, W)`` to resize the input to (``resize_tensor_input``), or None for the file's
            own shape.
        profile: accepted for symmetry with :func:`bench_torch`; LiteRT's Python API has no op profiler,
            so ``profile`` stays None (see module docstring).
        isolate: measure in a subprocess for a clean memory peak (slower start, ~1 s).
    """
    del profile  # nothing to turn on: see module docstring
    _check_counts(threads, runs, warmup)
    size = _size(input_size)
    if isolate:
        return BenchResult.from_dict(_run_isolated({"kind": "tflite", "path": str(path), "input_size": size,
                                                    "threads": threads, "runs": runs, "warmup": warmup}))
    try:
        return BenchResult.from_dict(core.bench_tflite_dict(str(path), size, threads, runs, warmup,
                                                            "in-process"))
    except core.BenchError as exc:
        raise IsplabError(str(exc)) from None


def bench_torch(model_or_ckpt: nn.Module | str | Path, input_size: tuple[int, int] = DEFAULT_INPUT_SIZE,
                threads: int = 2, runs: int = 10, warmup: int = 2, profile: bool = False,
                isolate: bool = True) -> BenchResult:
    """Time an eager torch model on CPU (``torch.set_num_threads(threads)``, inference mode).

    ``model_or_ckpt`` is an ``nn.Module`` (measured in this process) or an isplab checkpoint path
    (measured in a subprocess when ``isolate``). ``profile=True`` adds a
    ``torch.profiler`` op table from one extra forward pass.
    """
    _check_counts(threads, runs, warmup)
    size = _size(input_size)
    if size is None:
        raise IsplabError("bench_torch needs an input size (H, W), e.g. 544x960: a torch model has no "
                          "fixed input shape")
    if isinstance(model_or_ckpt, nn.Module):
        return BenchResult.from_dict(core.bench_torch_dict(model_or_ckpt, type(model_or_ckpt).__name__, size,
                                                           threads, runs, warmup, profile,
                                                           "in-process", None))
    path = Path(model_or_ckpt)
    if isolate:
        return BenchResult.from_dict(_run_isolated({"kind": "torch", "path": str(path), "input_size": size,
                                                    "threads": threads, "runs": runs, "warmup": warmup,
                                                    "profile": profile}))
    from isplab.train.checkpoint import load_model_from_checkpoint

    model, state = load_model_from_checkpoint(path)
    name = f"{state['model_name']} ({path})"
    return BenchResult.from_dict(core.bench_torch_dict(model, name, size, threads, runs, warmup, profile,
                                                       "in-process", path.stat().st_size))


def bench_tflite_interleaved(paths: dict[str, str | Path],
                             input_size: tuple[int, int] | None = DEFAULT_INPUT_SIZE, threads: int = 2,
                             runs: int = 10, warmup: int = 2) -> dict[str, BenchResult]:
    """Time several ``.tflite`` files in one process, round-robin (A, B, C, A, B, C, ...), so that CPU
    frequency drift and load from other processes hit every model alike. Memory is not measured
    (all interpreters share one process)."""
    _check_counts(threads, runs, warmup)
    size = tuple(_size(input_size)) if input_size is not None else None
    try:
        runners = {name: core.TfliteRunner(p, size, threads) for name, p in paths.items()}
    except core.BenchError as exc:
        raise IsplabError(str(exc)) from None
    for _ in range(warmup):
        for r in runners.values():
            r.time_once()
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(runs):
        for name, r in runners.items():
            times[name].append(r.time_once())
    return {
        name: BenchResult(
            model=str(r.path), backend="litert-xnnpack-cpu", runtime_version=core.litert_version(),
            threads=threads, runs=runs, warmup=warmup, input_shape=r.input_shape, output_shape=r.output_shape,
            **core.summarize(times[name]), peak_mem_mb=None, process_peak_rss_mb=None,
            memory_method="not measured (interleaved in one process)",
            file_size_bytes=r.path.stat().st_size, op_counts=r.op_counts,
            extra={"interleaved_with": [n for n in runners if n != name]})
        for name, r in runners.items()
    }


def bench_tflite_alternating(paths: dict[str, str | Path],
                             input_size: tuple[int, int] | None = DEFAULT_INPUT_SIZE, threads: int = 2,
                             runs: int = 10, warmup: int = 1, block: int = 2) -> dict[str, BenchResult]:
    """Like :func:`bench_tflite_interleaved` for models too big to hold at once: blocks of ``block`` runs
    (after ``warmup`` untimed ones), one fresh subprocess per block, alternating between the models
    until each has ``runs`` times. Drift is cancelled at block granularity; ``peak_mem_mb`` is the
    largest over a model's blocks."""
    _check_counts(threads, runs, warmup)
    if block < 1:
        raise IsplabError(f"bad block size {block}: need >= 1")
    blocks: dict[str, list[BenchResult]] = {name: [] for name in paths}
    done = 0
    while done < runs:
        n = min(block, runs - done)
        for name, path in paths.items():
            blocks[name].append(bench_tflite(path, input_size, threads, runs=n, warmup=warmup))
        done += n
    out = {}
    for name, parts in blocks.items():
        times = [t for r in parts for t in r.times_ms]
        first = parts[0]
        out[name] = BenchResult(**{
            **first.to_dict(), **core.summarize(times), "runs": runs, "warmup": warmup,
            "peak_mem_mb": max(r.peak_mem_mb for r in parts),
            "process_peak_rss_mb": max(r.process_peak_rss_mb for r in parts),
            "extra": {"alternating_with": [n for n in paths if n != name], "block": block,
                      "subprocesses": len(parts)}})
    return out
