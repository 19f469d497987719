"""Measurement core of :mod:`isplab.bench`, and the subprocess that isolates it.

``isplab.bench`` runs ``python -m isplab.bench.worker SPEC.json`` so that the RSS high-water mark it
reports belongs to one model alone: in a long-lived process a model that needs less than an earlier peak
would read as 0 MB. The LiteRT path imports no torch (the package face is lazy); the torch path loads the
checkpoint's model. The answer goes to the spec's ``out`` file: ``{"result": fields}`` or
``{"error": one line}``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from isplab.bench.memory import memory_method, rss_peak_mb, start_memory_window
from isplab.bench.result import summarize
from isplab.errors import IsplabError, first_line
from isplab.runtime.litert import LiteRTError, LiteRTModel


def litert_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"ai-edge-litert {version('ai-edge-litert')}"
    except PackageNotFoundError:
        return "ai-edge-litert (unknown version)"


def time_loop(fn: Callable[[], float], runs: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    return [fn() for _ in range(runs)]


def load_timed_tflite(path: str | Path, input_size: tuple[int, int] | None, threads: int) -> LiteRTModel:
    """``path`` resized to ``input_size`` (packed ``(H, W)``; None: the file's own) with a fixed random input
    set, ready for :func:`time_invoke`."""
    model = LiteRTModel(path, threads)
    shape = list(model.file_shape)
    if input_size is not None:
        if len(shape) != 4:
            raise LiteRTError(f"{path}: input is rank {len(shape)}, not NHWC [1,H,W,C]; omit --input-size to "
                              "use the file's own shape")
        shape = [shape[0], int(input_size[0]), int(input_size[1]), shape[3]]
    try:
        model.set_input(np.random.default_rng(0).random(shape, dtype=np.float32))
    except LiteRTError as exc:
        if input_size is None:
            raise
        raise LiteRTError(f"{exc}; omit --input-size to time it at its own size") from None
    return model


def time_invoke(model: LiteRTModel) -> float:
    """One ``invoke`` in milliseconds."""
    start = time.perf_counter()
    model.invoke()
    return (time.perf_counter() - start) * 1000.0


def measure_tflite(path: str, input_size: list[int] | None, threads: int, runs: int, warmup: int,
                   where: str) -> dict[str, Any]:
    """Benchmark one ``.tflite`` in this process and return the BenchResult fields."""
    import ai_edge_litert.interpreter  # noqa: F401  (the runtime library is not the model's memory)

    base, reset = start_memory_window()
    model = load_timed_tflite(path, tuple(input_size) if input_size else None, threads)
    times = time_loop(lambda: time_invoke(model), runs, warmup)
    peak = rss_peak_mb()
    return {
        "model": str(path), "backend": "litert-xnnpack-cpu", "runtime_version": litert_version(),
        "threads": threads, "runs": runs, "warmup": warmup,
        "input_shape": list(model.input_shape), "output_shape": list(model.output_shape),
        **summarize(times),
        "peak_mem_mb": peak - base, "process_peak_rss_mb": peak, "memory_method": memory_method(where, reset),
        "file_size_bytes": os.path.getsize(path), "params": None, "op_counts": model.op_counts, "profile": None,
    }


def measure_torch(model: Any, name: str, input_size: list[int], threads: int, runs: int, warmup: int,
                  profile: bool, where: str, file_size: int | None) -> dict[str, Any]:
    """Benchmark a torch module (eval, inference mode, CPU) and return the BenchResult fields."""
    import torch

    base, reset = start_memory_window()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = model.eval()
        x = torch.rand(1, 4, int(input_size[0]), int(input_size[1]), generator=torch.Generator().manual_seed(0))
        shape: list[int] = []

        def once() -> float:
            start = time.perf_counter()
            out = model(x)
            elapsed = (time.perf_counter() - start) * 1000.0
            shape[:] = list(out.shape)
            return elapsed

        with torch.inference_mode():
            times = time_loop(once, runs, warmup)
            ops = _torch_profile(model, x) if profile else None
        peak = rss_peak_mb()
    finally:
        torch.set_num_threads(old_threads)
    return {
        "model": name, "backend": "torch-cpu", "runtime_version": f"torch {torch.__version__}",
        "threads": threads, "runs": runs, "warmup": warmup, "input_shape": list(x.shape), "output_shape": shape,
        **summarize(times),
        "peak_mem_mb": peak - base, "process_peak_rss_mb": peak, "memory_method": memory_method(where, reset),
        "file_size_bytes": file_size, "params": sum(p.numel() for p in model.parameters()),
        "op_counts": None, "profile": ops,
    }


def _torch_profile(model: Any, x: Any, top: int = 15) -> list[dict[str, Any]]:
    """Per-op CPU times of one extra forward pass from ``torch.profiler`` (top ops by self time)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(x)
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [{"op": e.key, "calls": int(e.count), "self_ms": e.self_cpu_time_total / 1000.0,
             "total_ms": e.cpu_time_total / 1000.0} for e in rows]


def _measure(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["kind"] == "tflite":
        return measure_tflite(spec["path"], spec["input_size"], spec["threads"], spec["runs"], spec["warmup"],
                              "subprocess")
    from isplab.models.weights import load_model_from_checkpoint

    model, state = load_model_from_checkpoint(spec["path"])
    return measure_torch(model, f"{state['model_name']} ({spec['path']})", spec["input_size"], spec["threads"],
                         spec["runs"], spec["warmup"], spec["profile"], "subprocess", os.path.getsize(spec["path"]))


def main(spec_path: str) -> int:
    """Subprocess entry: read the spec JSON, write ``{"result": ...}`` or ``{"error": ...}`` to its ``out``."""
    spec = json.loads(Path(spec_path).read_text())
    try:
        payload = {"result": _measure(spec)}
    except IsplabError as exc:  # already one line for the user
        payload = {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - everything goes back to the parent as one line
        payload = {"error": f"{exc.__class__.__name__}: {first_line(exc)}"}
    Path(spec["out"]).write_text(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
