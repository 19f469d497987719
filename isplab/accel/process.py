"""Run :mod:`isplab.accel.worker` in a subprocess with a toolchain's environment and collect what it wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from isplab.accel.toolchains import Toolchains

#: A worker that runs longer than this is stopped and reported (the HTP simulator takes ~5-30 s per tile).
TIMEOUT_SECONDS = 900


@dataclass
class WorkerRun:
    result: dict  #: the worker's ``result.json`` (``error`` when it failed)
    outputs: list[np.ndarray]  #: one NHWC output per input (empty on error)
    log: str  #: the worker's stderr: the runtimes' own log lines


def call_worker(chains: Toolchains, target: str, model: str | Path, inputs: list[np.ndarray],
                timeout: float = TIMEOUT_SECONDS, **options) -> WorkerRun:
    """Run ``inputs`` (NHWC float32) through ``model`` on ``target`` in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="isplab-accel-") as tmp:
        folder = Path(tmp)
        paths = []
        for i, x in enumerate(inputs):
            paths.append(str(folder / f"in_{i}.npy"))
            np.save(paths[-1], np.ascontiguousarray(x, np.float32))
        request = folder / "request.json"
        request.write_text(json.dumps({"target": target, "model": str(model), "inputs": paths,
                                       "out_dir": str(folder), **options}))
        try:
            done = subprocess.run([sys.executable, "-m", "isplab.accel.worker", str(request)],
                                  env=chains.env(target), capture_output=True, text=True, timeout=timeout,
                                  errors="replace", check=False)
        except subprocess.TimeoutExpired:
            return WorkerRun({"error": f"no answer within {timeout:.0f} s"}, [], "")
        result_path = folder / "result.json"
        if not result_path.is_file():  # crashed inside a vendor library
            tail = " ".join(done.stderr.strip().splitlines()[-2:])[:300]
            return WorkerRun({"error": f"the {target} worker died (exit {done.returncode}): {tail}"}, [], done.stderr)
        result = json.loads(result_path.read_text())
        outputs = [] if "error" in result else [np.load(folder / f"out_{i}.npy") for i in range(len(inputs))
                                                 if (folder / f"out_{i}.npy").is_file()]
        return WorkerRun(result, outputs, done.stderr)
