"""The model-zoo table: every registered model exported, sized, audited and timed; writes ``docs/models.md``.

For each model of ``isplab.list_models()`` (default widths, re-parameterised):

* parameters after :func:`~isplab.models.reparam.reparameterize`;
* fp32 TFLite size in MB (2**20 bytes, as the report: MicroISP 159,192 B = 0.152 MB), exported with
  :func:`~isplab.export.export_tflite` at a small input (the size does not depend on it) together with
  its parity proof and mobile-GPU audit verdict;
* the report's Table 1 size where the team has a row, and whether ours lies within +-25 % of it;
* CPU runtime at Full HD (packed 544x960 input) with :func:`~isplab.bench.bench_tflite` (2 threads, few
  runs). A model whose estimated single run (Full-HD MACs from the graph / the best MAC rate measured so
  far on this machine) exceeds ``--max-seconds`` is not run: the cell says ``not measured (> N s est.)``;
  global self-attention (BATCH_MATMUL over all positions, quadratic in pixels) is not run either.

Outputs: ``benchmarks/results/zoo_table.json``, ``benchmarks/results/zoo_table.md`` and ``docs/models.md``
(the table plus one paragraph per model taken from its factory docstring).

Usage: ``python benchmarks/zoo_table.py [--models a,b] [--max-seconds 60] [--runs 3] [--docs-only]``.
"""

from __future__ import annotations

import argparse
import inspect
import json
import tempfile
import time
from pathlib import Path

import torch

from isplab.atomic import write_text_atomic
from isplab.bench import bench_tflite
from isplab.export import export_tflite, inspect_tflite
from isplab.export.convert import reparameterize_for_export
from isplab.models.registry import count_parameters, create_model, list_models, model_entry
from isplab.report_table1 import TABLE1, ReportRow

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "models.md"
FULL_HD = (544, 960)
MB = 2**20
#: Assumed CPU MAC rate before any model has been measured (2 threads, XNNPACK fp32), MAC/s.
START_RATE = 5e9

#: model -> (team, Table 1 size cell): the report row holding the model's submitted TFLite size.
REPORT_ROWS = {
    "mialgo_3conv": ("MiAlgo", "0.014"), "mialgo_unet": ("MiAlgo", "117"),
    "enerzai_t1": ("ENERZAi", "0.077"), "enerzai_t2": ("ENERZAi", "4.5"),
    "rfdcsa": ("HITZST01", "0.060"), "rfdcsa_large": ("HITZST01", "1.2"),
    "mincho_mobile_smallnet": ("MINCHO", "0.067"), "jmu_cvlab": ("JMU-CVLab", "0.041"),
    "awbunet": ("rainbow", "1.0"), "casia_teacher": ("CASIA 1st", "205"), "casia_student": ("CASIA 1st", "205"),
    "dann_isp": ("DANN-ISP", "29.4"), "fgarepnet": ("Multimedia *", "0.029"), "ifsnet": ("SKD-VSP", "78.9"),
    "gaussdwt": ("CHannel Team", "102.0"), "microisp": ("MicroISP 1.0 [27]", "0.152"),
    "microisp_0.5": ("MicroISP 0.5 [27]", "0.077"), "pynetv2_mobile": ("PyNET-V2 Mobile [23]", "3.6"),
}


def report_row(name: str) -> ReportRow | None:
    key = REPORT_ROWS.get(name)
    if key is None:
        return None
    return next(r for r in TABLE1 if (r.team, r.size_mb_text) == key)


def small_size(name: str) -> tuple[int, int]:
    """Smallest valid square packed input from 64 up (export size; the file size does not depend on it)."""
    entry = model_entry(name)
    m = entry.input_multiple
    side = -(-max(64, entry.min_input) // m) * m
    return side, side


def measure(name: str, folder: Path, rate: float, max_seconds: float, runs: int) -> tuple[dict, float]:
    """One table row; returns it and the updated best MAC rate."""
    torch.manual_seed(0)
    model = create_model(name).eval()
    with torch.no_grad():  # zero-initialised gates (self-attention gamma): the converter would fold the
        for pname, p in model.named_parameters():  # whole gated branch and its weights out of the file
            if pname.endswith("gamma") and not p.any():
                p.fill_(0.5)
    size = small_size(name)
    path = folder / f"{name}.tflite"
    start = time.perf_counter()
    report = export_tflite(model, path, input_size=size, real_raw_dir=None)
    row = {
        "name": name,
        "params": count_parameters(model),
        "params_fused": count_parameters(reparameterize_for_export(model)),
        "export_input": list(size),
        "tflite_bytes": report.size_bytes,
        "tflite_mb": report.size_bytes / MB,
        "parity_max_abs": report.parity.max_abs,
        "gpu_clean": report.audit.clean,
        "gpu_audit": report.audit.summary(),
        "op_histogram": report.audit.histogram(),
        "export_seconds": round(time.perf_counter() - start, 1),
    }
    ref = report_row(name)
    row["report_team"] = ref.team if ref else None
    row["report_mb"] = ref.size_mb if ref else None
    row["size_ratio"] = row["tflite_mb"] / ref.size_mb if ref and ref.size_mb else None
    macs = inspect_tflite(path).macs * (FULL_HD[0] * FULL_HD[1]) / (size[0] * size[1])
    row["macs_full_hd"] = int(macs)
    est = macs / rate
    row["cpu_ms"], row["cpu_note"] = None, None
    if "BATCH_MATMUL" in row["op_histogram"]:  # attention over all positions: cost and memory grow as (HW)**2
        row["cpu_note"] = "not measured (global self-attention: (HW)^2 attention matrix, ~1 TB at Full HD)"
        return row, rate
    if est > max_seconds:
        row["cpu_note"] = f"not measured (> {est:.0f} s est.)"
        return row, rate
    try:
        bench = bench_tflite(path, input_size=FULL_HD, threads=2, runs=runs, warmup=1)
    except Exception as exc:  # noqa: BLE001 - a resize-incompatible graph: re-export at Full HD once
        print(f"  {name}: resized run failed ({str(exc).splitlines()[0][:120]}); exporting at Full HD")
        full = folder / f"{name}-fullhd.tflite"
        export_tflite(model, full, input_size=FULL_HD, real_raw_dir=None)
        bench = bench_tflite(full, input_size=FULL_HD, threads=2, runs=runs, warmup=1)
    row["cpu_ms"] = bench.median_ms
    row["cpu_runs"] = runs
    return row, max(rate, macs / (bench.median_ms / 1e3))


def _cell_mb(mb: float | None) -> str:
    if mb is None:
        return "-"
    return f"{mb:.3f}" if mb < 10 else f"{mb:.1f}"


def table_markdown(rows: list[dict]) -> str:
    lines = ["| model | params (fused) | fp32 TFLite MB | report MB | size vs report | CPU ms, Full HD | GPU audit |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        ratio = f"{100 * (r['size_ratio'] - 1):+.0f}%" if r["size_ratio"] is not None else "-"
        cpu = f"{r['cpu_ms']:,.0f}" if r["cpu_ms"] is not None else r["cpu_note"]
        audit = "clean" if r["gpu_clean"] else f"NOT clean: {r['gpu_audit']}"
        lines.append(f"| `{r['name']}` | {r['params_fused']:,} | {_cell_mb(r['tflite_mb'])} | "
                     f"{_cell_mb(r['report_mb'])} | {ratio} | {cpu} | {audit} |")
    return "\n".join(lines)


def _paragraph(name: str) -> str:
    """The factory docstring; one-line ones get their module docstring's first paragraph (report section)."""
    factory = model_entry(name).factory
    doc = inspect.cleandoc(factory.__doc__ or "")
    module_doc = inspect.cleandoc(inspect.getmodule(factory).__doc__ or "")
    if len([line for line in doc.splitlines() if line.strip()]) <= 2 and module_doc:
        doc = module_doc.split("\n\n")[0] + "\n\n" + doc
    return " ".join(doc.split())


def docs_markdown(rows: list[dict], failures: dict[str, str]) -> str:
    outside = [r for r in rows if r["size_ratio"] is not None and abs(r["size_ratio"] - 1) > 0.25]
    parts = [
        "# Model zoo",
        "",
        "<!-- generated by benchmarks/zoo_table.py; do not edit by hand -->",
        "",
        "Every registered model at its default size, re-parameterised (train-time branches fused), exported "
        "to fp32 TFLite with a parity proof and the mobile-GPU audit (`isplab.export.export_tflite`). "
        "MB = 2^20 bytes as in the report's Table 1 (MicroISP: 159,192 B = 0.152 MB); the file size does "
        "not depend on the input size, so models are exported at a small input. CPU runtime: "
        "`isplab.bench.bench_tflite` at Full HD (packed 544x960 input, 1088x1920 output), LiteRT XNNPACK, "
        "2 threads, median of a few runs on this project's shared 2-core machine (not the report's phone; "
        "other jobs share the cores, so treat the figures as +-2x: JMU-CVLab measured 538 ms here and "
        "2,692 ms in a busier run). "
        "Models whose single Full-HD run is estimated above the time limit (MACs / best measured MAC rate) "
        "are not run.",
        "",
        table_markdown(rows),
        "",
    ]
    if failures:
        parts += ["**Not exported:** " + "; ".join(f"`{n}`: {e}" for n, e in failures.items()), ""]
    parts += [
        "**Untrained weights change the file.** Models are exported as initialised. MicroISP's PReLU slopes "
        "start at 0 and identical constants share one buffer, so its file is smaller than with trained weights: "
        "with the official weights imported, isplab's export is 112,860 B (0.108 MB) against the official "
        "file's 159,192 B (0.152 MB), with bit-identical outputs (`tests/export/test_compact.py`). isplab's "
        "exporter lowers PReLU to TFLite's PRELU and writes short tensor names; files written by TensorFlow "
        "carry long ones. Self-attention gates (`gamma`, initialised to 0) are set to 0.5 before export so the "
        "attention branch is not folded away.",
        "",
        "## Outside +-25 % of the report size",
        "",
    ]
    if outside:
        parts += [f"- `{r['name']}`: {_cell_mb(r['tflite_mb'])} MB vs {_cell_mb(r['report_mb'])} MB "
                  f"({100 * (r['size_ratio'] - 1):+.0f}%). {_outside_reason(r)}" for r in outside]
    else:
        parts.append("None.")
    parts += ["", "## Models", ""]
    for r in rows:
        parts += [f"### `{r['name']}`", "", _paragraph(r["name"]), ""]
    return "\n".join(parts)


def _outside_reason(row: dict) -> str:
    """Why a model's file is outside +-25 % of Table 1."""
    weights_mb = 4 * row["params_fused"] / MB
    ratio = weights_mb / row["report_mb"]
    if row["tflite_mb"] < row["report_mb"]:
        return (f"Smaller than the report's file: its fp32 weights are {weights_mb:.3f} MB "
                f"({100 * (ratio - 1):+.0f}% of the report) and isplab writes short tensor names where "
                "TensorFlow-written files carry long ones.")
    if abs(ratio - 1) <= 0.25:
        return (f"Its fp32 weights ({weights_mb:.3f} MB) are within +-25 % of the report; the excess is "
                "TFLite metadata.")
    return f"Its fp32 weights alone are {weights_mb:.3f} MB ({100 * (ratio - 1):+.0f}% of the report)."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated subset (default: all registered)")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docs-only", action="store_true",
                        help="rewrite docs/models.md from the saved JSON (e.g. after editing docstrings)")
    args = parser.parse_args(argv)
    if args.docs_only:
        payload = json.loads((RESULTS / "zoo_table.json").read_text())
        write_text_atomic(DOCS, docs_markdown(payload["rows"], payload["failures"]) + "\n")
        return
    names = args.models.split(",") if args.models else list_models()
    rows, failures, rate = [], {}, START_RATE
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"{name} ...", flush=True)
            try:
                row, rate = measure(name, Path(tmp), rate, args.max_seconds, args.runs)
            except Exception as exc:  # noqa: BLE001 - one model's failure is a table entry, not a crash
                failures[name] = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:200]}"
                print(f"  FAILED {failures[name]}", flush=True)
                continue
            rows.append(row)
            print(f"  {row['tflite_mb']:.3f} MB, clean={row['gpu_clean']}, cpu={row['cpu_ms'] or row['cpu_note']}",
                  flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.models and (RESULTS / "zoo_table.json").is_file():  # a subset updates its rows of the saved table
        saved = json.loads((RESULTS / "zoo_table.json").read_text())
        fresh = {r["name"] for r in rows} | set(failures)
        rows = sorted([r for r in saved["rows"] if r["name"] not in fresh] + rows, key=lambda r: r["name"])
        failures = {**{k: v for k, v in saved["failures"].items() if k not in fresh}, **failures}
    payload = {"full_hd_input": list(FULL_HD), "threads": 2, "runs": args.runs, "max_seconds": args.max_seconds,
               "torch": torch.__version__, "rows": rows, "failures": failures}
    write_text_atomic(RESULTS / "zoo_table.json", json.dumps(payload, indent=2) + "\n")
    write_text_atomic(RESULTS / "zoo_table.md", table_markdown(rows) + "\n")
    write_text_atomic(DOCS, docs_markdown(rows, failures) + "\n")
    print(table_markdown(rows))


if __name__ == "__main__":
    main()
