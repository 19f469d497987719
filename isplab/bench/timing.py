"""Public benchmark calls: one file or model (in a fresh subprocess by default), several files
interleaved in one process, or alternating subprocess blocks for files too big to hold together."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from isplab.bench.result import BenchResult, summarize
from isplab.bench.worker import litert_version, load_timed_tflite, measure_tflite, measure_torch, time_invoke
from isplab.errors import IsplabError
from isplab.runtime import FULL_HD_INPUT

#: The report's Table 1 runtimes are at Full HD output (1920x1088), i.e. a 544x960 packed raw input.
DEFAULT_INPUT_SIZE = FULL_HD_INPUT


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


def _check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise IsplabError(f"{path}: no such file. Pass a .tflite written by `isplab export` or an isplab "
                          "checkpoint (.pt)")
    return path


def _run_isolated(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure in a fresh interpreter (``python -m isplab.bench.worker``) and return the result fields."""
    with tempfile.TemporaryDirectory(prefix="isplab-bench-") as tmp:
        spec_path, out = Path(tmp) / "spec.json", Path(tmp) / "out.json"
        spec_path.write_text(json.dumps({**spec, "out": str(out)}))
        proc = subprocess.run([sys.executable, "-m", "isplab.bench.worker", str(spec_path)],
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
        path: a model taking NHWC ``[1, H, W, 4]`` (int8 inputs get quantized random data).
        input_size: ``(H, W)`` to resize the input to, or None for the file's own shape.
        profile: accepted for symmetry with :func:`bench_torch`; LiteRT's Python API has no op profiler,
            so ``profile`` stays None (see the package docstring).
        isolate: measure in a subprocess for a clean memory peak (slower start).
    """
    del profile  # nothing to turn on: see the package docstring
    _check_counts(threads, runs, warmup)
    size = _size(input_size)
    path = _check_file(path)
    if isolate:
        return BenchResult.from_dict(_run_isolated({"kind": "tflite", "path": str(path), "input_size": size,
                                                    "threads": threads, "runs": runs, "warmup": warmup}))
    return BenchResult.from_dict(measure_tflite(str(path), size, threads, runs, warmup, "in-process"))


def bench_torch(model_or_ckpt: Any, input_size: tuple[int, int] = DEFAULT_INPUT_SIZE, threads: int = 2,
                runs: int = 10, warmup: int = 2, profile: bool = False, isolate: bool = True) -> BenchResult:
    """Time an eager torch model on CPU (``torch.set_num_threads(threads)``, inference mode).

    ``model_or_ckpt`` is an ``nn.Module`` (measured in this process) or an isplab checkpoint path
    (measured in a subprocess when ``isolate``). ``profile=True`` adds a ``torch.profiler`` op table
    from one extra forward pass.
    """
    _check_counts(threads, runs, warmup)
    size = _size(input_size)
    if size is None:
        raise IsplabError("bench_torch needs an input size (H, W), e.g. 544x960: a torch model has no "
                          "fixed input shape")
    if not isinstance(model_or_ckpt, str | Path):
        return BenchResult.from_dict(measure_torch(model_or_ckpt, type(model_or_ckpt).__name__, size, threads,
                                                   runs, warmup, profile, "in-process", None))
    from isplab.models.weights import resolve_weights  # pretrained:NAME -> the shipped file

    path = _check_file(resolve_weights(model_or_ckpt))
    if isolate:
        return BenchResult.from_dict(_run_isolated({"kind": "torch", "path": str(path), "input_size": size,
                                                    "threads": threads, "runs": runs, "warmup": warmup,
                                                    "profile": profile}))
    from isplab.models.weights import load_model_from_checkpoint

    model, state = load_model_from_checkpoint(path)
    return BenchResult.from_dict(measure_torch(model, f"{state['model_name']} ({path})", size, threads, runs,
                                               warmup, profile, "in-process", path.stat().st_size))


def bench_tflite_interleaved(paths: dict[str, str | Path],
                             input_size: tuple[int, int] | None = DEFAULT_INPUT_SIZE, threads: int = 2,
                             runs: int = 10, warmup: int = 2) -> dict[str, BenchResult]:
    """Time several ``.tflite`` files in one process, round-robin (A, B, C, A, B, C, ...), so that CPU
    frequency drift and load from other processes hit every model alike. Memory is not measured
    (all interpreters share one process)."""
    _check_counts(threads, runs, warmup)
    size = _size(input_size)
    models = {name: load_timed_tflite(_check_file(p), size, threads) for name, p in paths.items()}
    for _ in range(warmup):
        for m in models.values():
            time_invoke(m)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(runs):
        for name, m in models.items():
            times[name].append(time_invoke(m))
    return {
        name: BenchResult(
            model=str(m.path), backend="litert-xnnpack-cpu", runtime_version=litert_version(),
            threads=threads, runs=runs, warmup=warmup, input_shape=list(m.input_shape),
            output_shape=list(m.output_shape), **summarize(times[name]), peak_mem_mb=None,
            process_peak_rss_mb=None, memory_method="not measured (interleaved in one process)",
            file_size_bytes=m.path.stat().st_size, op_counts=m.op_counts,
            extra={"interleaved_with": [n for n in models if n != name]})
        for name, m in models.items()
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
        out[name] = BenchResult(**{
            **parts[0].to_dict(), **summarize(times), "runs": runs, "warmup": warmup,
            "peak_mem_mb": max(r.peak_mem_mb for r in parts),
            "process_peak_rss_mb": max(r.process_peak_rss_mb for r in parts),
            "extra": {"alternating_with": [n for n in paths if n != name], "block": block,
                      "subprocesses": len(parts)}})
    return out
