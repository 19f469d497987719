"""CPU runtime benchmarks: LiteRT (XNNPACK) for ``.tflite`` files, eager torch for models/checkpoints.

Timing: ``warmup`` untimed runs, then ``runs`` timed runs of inference alone (``invoke()`` / ``forward``)
on one random input set beforehand; statistics are over the timed runs.

Memory (:mod:`.memory`): ``peak_mem_mb`` is the growth of the RSS high-water mark from just before the
model is loaded to the end of the timed runs: what the model needs on top of Python and the runtime
libraries. ``process_peak_rss_mb`` is the whole (sub)process's peak. By default each benchmark runs in a
fresh Python subprocess (``isolate=True``, ``python -m isplab.bench.worker``), which also keeps the
caller's threads and allocations out of the timings.

Op-level profile: the LiteRT Python interpreter (ai-edge-litert 2.3) exposes no profiler -- its
``Interpreter`` has no profiling hooks and ``CompiledModel`` none either -- so ``bench_tflite`` reports
``profile: None``. ``op_counts`` is a static histogram of the file's ops, not timings. ``bench_torch``
with ``profile=True`` fills ``profile`` from ``torch.profiler`` (top ops by self CPU time).

Input sizes are ``(H, W)`` of the packed raw input: ``.tflite`` ``[1, H, W, 4]`` (NHWC), torch
``(1, 4, H, W)``; outputs are twice that size. Importing this package does not import torch.
"""

from isplab.bench.result import BenchResult
from isplab.bench.timing import (
    DEFAULT_INPUT_SIZE,
    bench_tflite,
    bench_tflite_alternating,
    bench_tflite_interleaved,
    bench_torch,
)

__all__ = [
    "DEFAULT_INPUT_SIZE",
    "BenchResult",
    "bench_tflite",
    "bench_tflite_alternating",
    "bench_tflite_interleaved",
    "bench_torch",
]
