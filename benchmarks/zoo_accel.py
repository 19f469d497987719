"""Every registered model on the real accelerators: Qualcomm's HTP (SM8450 compile + simulator) and LiteRT's
GPU runtime (WebGPU on lavapipe), at a small tile; the zoo table (``zoo_table.py``) shows the verdicts.

Each model is built as ``zoo_table.build`` builds it (official weights for ``microisp``, ``jmu_cvlab`` and
``microisp_0.5``'s generators when ``../shared`` is present), exported at the tile with the graph optimiser
exactly as ``isplab export`` would, and checked with :func:`isplab.accel.check.check_model` (HTP fp16
against PyTorch; GPU fp16 and fp32 against PyTorch). The submitted files of MicroISP and JMU-CVLab are
checked as files too (:func:`~isplab.accel.check.check_tflite`, against the CPU interpreter): the report's
deployment rows reproduced or refuted by the runtimes.

Results are saved after every model (``benchmarks/results/zoo_accel.json``), so runs can be split (``--models``)
to keep each under the CPU lock's time; ``zoo_table.py --docs-only`` then renders the columns.

Usage: ``python benchmarks/zoo_accel.py [--models a,b] [--tile 162x216]`` (toolchains: ``isplab accel setup``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _results import RESULTS  # noqa: E402
from zoo_table import SHARED, TRAINED, build  # noqa: E402

from isplab.accel.check import check_model, check_tflite, fit_tile  # noqa: E402
from isplab.accel.tile import DEFAULT_TILE  # noqa: E402
from isplab.accel.toolchains import TARGETS, Toolchains  # noqa: E402
from isplab.atomic import write_text_atomic  # noqa: E402
from isplab.cli.args import parse_size  # noqa: E402
from isplab.models import list_models  # noqa: E402

OUT = RESULTS / "zoo_accel.json"
#: Submitted files checked as they are: row name -> (file under ../shared, tile)
FILES = {"MicroISP.tflite (official)": (TRAINED["microisp"][1], DEFAULT_TILE),
         "JMU-CVLab model.tflite (submitted)": (TRAINED["jmu_cvlab"][1], (128, 160))}


def load() -> dict:
    return json.loads(OUT.read_text()) if OUT.is_file() else {"models": {}, "files": {}}


def save(payload: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_text_atomic(OUT, json.dumps(payload, indent=1) + "\n")


def entry(report, seconds: float, weights: str) -> dict:
    return {"tile": list(report.tile), "weights": weights, "seconds": round(seconds, 1), "cells": report.cells(),
            "failures": report.failures(), "report": report.render()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated subset (default: all registered)")
    parser.add_argument("--tile", type=parse_size, default=DEFAULT_TILE)
    parser.add_argument("--files", action="store_true", help="also check the submitted peer files")
    args = parser.parse_args(argv)
    chains = Toolchains.load()
    missing = [chains.missing(t) for t in TARGETS if chains.missing(t)]
    if missing:
        raise SystemExit(missing[0])
    payload = load()
    if args.files:
        for row, (parts, tile) in FILES.items():
            if SHARED.joinpath(*parts).is_file():
                start = time.perf_counter()
                report = check_tflite(SHARED.joinpath(*parts), "htp,gpu", tile, chains=chains)
                payload["files"][row] = entry(report, time.perf_counter() - start, "as submitted")
                save(payload)
                print(report.render(), flush=True)
    for name in args.models.split(",") if args.models else list_models():
        model, weights = build(name)
        start = time.perf_counter()
        try:
            report = check_model(model, name, "htp,gpu", fit_tile(name, args.tile), int8=False, chains=chains)
        except Exception as exc:  # noqa: BLE001 - one model's failure is a table entry, not a crash
            payload["models"][name] = {"error": f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"}
            print(f"{name}: FAILED {payload['models'][name]['error']}", flush=True)
        else:
            payload["models"][name] = entry(report, time.perf_counter() - start, weights)
            print(report.render(), flush=True)
        save(payload)


if __name__ == "__main__":
    main()
