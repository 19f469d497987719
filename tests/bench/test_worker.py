"""The benchmark subprocess (isplab.bench.worker): one line back on errors, no torch on the LiteRT path."""

from __future__ import annotations

import json
import subprocess
import sys

from isplab.bench import worker


def test_worker_answers_errors_in_one_line(tmp_path):
    spec = tmp_path / "spec.json"
    out = tmp_path / "out.json"
    spec.write_text(json.dumps({"kind": "tflite", "path": str(tmp_path / "missing.tflite"), "input_size": None,
                                "threads": 1, "runs": 1, "warmup": 0, "out": str(out)}))
    assert worker.main(str(spec)) == 0
    error = json.loads(out.read_text())["error"]
    assert "missing.tflite: no such .tflite file" in error and "\n" not in error


def test_litert_benchmarks_do_not_import_torch():
    code = "import sys, isplab.bench, isplab.bench.worker; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
