"""Time and memory of one ``develop_file`` run, measured in a fresh interpreter.

Memory is measured as in :mod:`isplab.bench`: the RSS high-water mark is reset (Linux ``clear_refs``)
after the imports, so ``peak_growth_mb`` is what loading the model, reading, developing and writing
the frame added; ``process_peak_mb`` is the whole subprocess's peak (imports of torch / LiteRT included).

Run as ``python -m isplab.develop.measure SPEC_JSON`` (it prints one JSON line), or call
:func:`measure_develop`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from isplab.errors import IsplabError


def measure_develop(path: str | Path, weights: str | Path, out_dir: str | Path, tile: int = 512, overlap: int = 32,
                    fmt: str = "png", read_options: dict[str, Any] | None = None, threads: int = 2) -> dict[str, Any]:
    """Develop ``path`` with ``weights`` in a subprocess; returns ``seconds``, ``peak_growth_mb``,
    ``process_peak_mb``, ``memory_window_reset`` and ``output``."""
    spec = {"path": str(path), "weights": str(weights), "out_dir": str(out_dir), "tile": tile, "overlap": overlap,
            "fmt": fmt, "read_options": read_options or {}, "threads": threads}
    proc = subprocess.run([sys.executable, "-m", "isplab.develop.measure", json.dumps(spec)],
                          capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise IsplabError(f"{path}: develop subprocess failed (exit {proc.returncode}: {tail})")
    return json.loads(lines[-1])


def _worker(spec: dict[str, Any]) -> dict[str, Any]:
    # The backend's libraries are imported before the window: they are the runtime, not the workload.
    if Path(spec["weights"]).suffix.lower() == ".tflite":
        import ai_edge_litert.interpreter  # noqa: F401
    else:
        import isplab.develop.torch_runners  # noqa: F401  (torch, the model registry, the classical ISP)
        import isplab.models  # noqa: F401

    from isplab.bench.memory import rss_peak_mb, start_memory_window
    from isplab.develop.pipeline import DevelopSettings, develop_file
    from isplab.develop.runners import load_runner

    base, reset = start_memory_window()
    start = time.perf_counter()
    runner = load_runner(spec["weights"], num_threads=spec["threads"])
    settings = DevelopSettings(fmt=spec["fmt"], tile=spec["tile"], overlap=spec["overlap"],
                               read_options=spec["read_options"])
    out = develop_file(spec["path"], runner, spec["out_dir"], settings)
    seconds = time.perf_counter() - start
    peak = rss_peak_mb()
    return {"seconds": seconds, "peak_growth_mb": peak - base, "process_peak_mb": peak,
            "memory_window_reset": reset, "output": str(out)}


if __name__ == "__main__":
    print(json.dumps(_worker(json.loads(sys.argv[1]))))
