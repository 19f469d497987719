"""Measurement core of :mod:`isplab.bench`, importable without the ``isplab`` package.

``isplab.bench`` runs this file as a script in a fresh interpreter (``python -P _bench_worker.py SPEC``)
so that the RSS high-water mark it reports belongs to one model alone: ``ru_maxrss`` only ever grows, so
in a long-lived process a model that needs less than an earlier peak would read as 0 MB. Importing
``isplab`` would pull in torch (~3 s, ~300 MB) for a LiteRT benchmark, hence no package imports here;
the torch path imports ``isplab`` lazily. Errors meant for the user are :class:`BenchError`.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any


class BenchError(Exception):
    """A user-facing failure (bad file, bad size); ``isplab.bench`` turns it into ``IsplabError``."""


def _proc_status_mb(field: str) -> float | None:
    """``VmHWM`` / ``VmRSS`` of this process from ``/proc/self/status`` in MB (None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_peak_mb() -> float:
    """This process's RSS high-water mark in MB.

    Linux: ``VmHWM``, the peak of the current address space. Not ``ru_maxrss``: that one survives
    ``exec``, so a benchmark subprocess started by a parent holding GBs would inherit the parent's peak
    and report 0 MB for any smaller model. Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def start_memory_window() -> tuple[float, bool]:
    """Reset the RSS high-water mark to the current RSS if the OS allows it (Linux ``clear_refs`` 5),
    and return ``(baseline MB, was_reset)``. Without a reset the later peak minus this baseline is only
    a lower bound when the process peaked higher before."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        rss = _proc_status_mb("VmRSS")
        if rss is not None:
            return rss, True
    except OSError:
        pass
    return rss_peak_mb(), False


def summarize(times_ms: list[float]) -> dict[str, Any]:
    """Median, mean, sample std, min, max and p90 (linear interpolation) of the run times."""
    ordered = sorted(times_ms)
    pos = 0.9 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    p90 = ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
    return {
        "median_ms": statistics.median(ordered),
        "mean_ms": statistics.fmean(ordered),
        "std_ms": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
        "min_ms": ordered[0],
        "max_ms": ordered[-1],
        "p90_ms": p90,
        "times_ms": list(times_ms),
    }


class TfliteRunner:
    """One LiteRT interpreter (XNNPACK on CPU) with a random input set once; :meth:`time_once` times
    ``invoke()`` alone, as the AI Benchmark app does (input copies are not part of inference)."""

    def __init__(self, path: str | Path, input_size: tuple[int, int] | None, threads: int):
        import numpy as np
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise BenchError(f"{self.path}: no such file. Pass a .tflite written by `isplab export` "
                             "or an isplab checkpoint (.pt)")
        try:
            # AUTO op resolver = builtin kernels + the default XNNPACK delegate; num_threads drives both.
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=threads)
        except (ValueError, RuntimeError) as exc:
            raise BenchError(f"{self.path}: not a readable .tflite model ({_first_line(exc)}). "
                             "Re-export it with `isplab export`") from None
        self.op_counts = _op_counts(self.interpreter)
        inputs = self.interpreter.get_input_details()
        if len(inputs) != 1:
            raise BenchError(f"{self.path}: expected 1 input tensor, found {len(inputs)}; isplab models "
                             "take one NHWC raw tensor [1,H,W,4]")
        detail = inputs[0]
        if detail["dtype"] != np.float32:
            raise BenchError(f"{self.path}: input dtype is {np.dtype(detail['dtype']).name}, expected "
                             "float32 (isplab benchmarks float models)")
        shape = [int(d) for d in detail["shape"]]
        if input_size is not None and len(shape) != 4:
            raise BenchError(f"{self.path}: input is rank {len(shape)}, not NHWC [1,H,W,C]; "
                             "omit --input-size to use the file's own shape")
        if input_size is not None:
            shape = [shape[0], int(input_size[0]), int(input_size[1]), shape[3]]
        try:
            if list(detail["shape"]) != shape:
                self.interpreter.resize_tensor_input(detail["index"], shape)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise BenchError(f"{self.path}: cannot run at input {shape} ({_first_line(exc)}); the graph "
                             "has shapes fixed at export. Use a size the model supports or omit "
                             "--input-size to use the file's own shape") from None
        rng = np.random.default_rng(0)
        self.interpreter.set_tensor(detail["index"], rng.random(shape, dtype=np.float32))
        self.input_shape = shape
        self.output_shape = [int(d) for d in self.interpreter.get_output_details()[0]["shape"]]

    def time_once(self) -> float:
        start = time.perf_counter()
        self.interpreter.invoke()
        return (time.perf_counter() - start) * 1000.0


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def _op_counts(interpreter: Any) -> dict[str, int] | None:
    """Builtin op histogram of the file's graph (static census, *not* timings). Read before
    ``allocate_tensors`` so the XNNPACK delegate node is not yet in the list. Private API: None if gone."""
    try:
        return dict(Counter(op["op_name"] for op in interpreter._get_ops_details()))
    except Exception:  # noqa: BLE001 - optional diagnostics only
        return None


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


def bench_tflite_dict(path: str, input_size: list[int] | None, threads: int, runs: int, warmup: int,
                      memory_method: str) -> dict[str, Any]:
    """Benchmark one ``.tflite`` in this process and return the BenchResult fields as a dict."""
    base, reset = start_memory_window()
    runner = TfliteRunner(path, tuple(input_size) if input_size else None, threads)
    times = time_loop(runner.time_once, runs, warmup)
    peak = rss_peak_mb()
    return {
        "model": str(path), "backend": "litert-xnnpack-cpu", "runtime_version": litert_version(),
        "threads": threads, "runs": runs, "warmup": warmup,
        "input_shape": runner.input_shape, "output_shape": runner.output_shape,
        **summarize(times),
        "peak_mem_mb": peak - base, "process_peak_rss_mb": peak,
        "memory_method": _method(memory_method, reset),
        "file_size_bytes": runner.path.stat().st_size, "params": None,
        "op_counts": runner.op_counts, "profile": None,
    }


def bench_torch_dict(model: Any, name: str, input_size: list[int], threads: int, runs: int, warmup: int,
                     profile: bool, memory_method: str, file_size: int | None) -> dict[str, Any]:
    """Benchmark a torch module (eval, inference mode, CPU) and return the BenchResult fields."""
    import torch

    base, reset = start_memory_window()
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        model = model.eval()
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(1, 4, int(input_size[0]), int(input_size[1]), generator=gen)

        def once() -> float:
            start = time.perf_counter()
            out = model(x)
            elapsed = (time.perf_counter() - start) * 1000.0
            once.shape = list(out.shape)  # type: ignore[attr-defined]
            return elapsed

        with torch.inference_mode():
            times = time_loop(once, runs, warmup)
            ops = _torch_profile(model, x) if profile else None
        peak = rss_peak_mb()
    finally:
        torch.set_num_threads(old_threads)
    return {
        "model": name, "backend": "torch-cpu", "runtime_version": f"torch {torch.__version__}",
        "threads": threads, "runs": runs, "warmup": warmup,
        "input_shape": list(x.shape), "output_shape": once.shape,  # type: ignore[attr-defined]
        **summarize(times),
        "peak_mem_mb": peak - base, "process_peak_rss_mb": peak,
        "memory_method": _method(memory_method, reset),
        "file_size_bytes": file_size, "params": sum(p.numel() for p in model.parameters()),
        "op_counts": None, "profile": ops,
    }


def _method(where: str, reset: bool) -> str:
    """``subprocess``, ``in-process (peak reset)`` or ``in-process (lower bound)``."""
    return where if where == "subprocess" else f"in-process ({'peak reset' if reset else 'lower bound'})"


def _torch_profile(model: Any, x: Any, top: int = 15) -> list[dict[str, Any]]:
    """Per-op CPU times of one extra forward pass from ``torch.profiler`` (top ops by self time)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(x)
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return [{"op": e.key, "calls": int(e.count), "self_ms": e.self_cpu_time_total / 1000.0,
             "total_ms": e.cpu_time_total / 1000.0} for e in rows]


def _main(spec_path: str) -> int:
    """Subprocess entry: read the spec JSON, write ``{"result": ...}`` or ``{"error": ...}`` beside it."""
    spec = json.loads(Path(spec_path).read_text())
    out = Path(spec["out"])
    try:
        if spec["kind"] == "tflite":
            result = bench_tflite_dict(spec["path"], spec["input_size"], spec["threads"], spec["runs"],
                                       spec["warmup"], "subprocess")
        else:
            from isplab.train.checkpoint import load_model_from_checkpoint

            model, state = load_model_from_checkpoint(spec["path"])
            result = bench_torch_dict(model, f"{state['model_name']} ({spec['path']})", spec["input_size"],
                                      spec["threads"], spec["runs"], spec["warmup"], spec["profile"],
                                      "subprocess", os.path.getsize(spec["path"]))
        payload = {"result": result}
    except BenchError as exc:
        payload = {"error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - everything goes back to the parent as one line
        errors = sys.modules.get("isplab.errors")  # IsplabError (e.g. bad checkpoint) is already user-facing
        user = errors is not None and isinstance(exc, errors.IsplabError)
        payload = {"error": str(exc) if user else f"{exc.__class__.__name__}: {_first_line(exc)}"}
    out.write_text(json.dumps(payload))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1]))
