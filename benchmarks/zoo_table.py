"""The model-zoo table: every registered model exported, sized, audited and timed; writes ``docs/models.md``.

For each model of ``isplab.list_models()`` (default widths, re-parameterised):

* parameters after :func:`~isplab.models.reparam.reparameterize`;
* fp32 TFLite size in MB (2**20 bytes, as the report: MicroISP 159,192 B = 0.152 MB), exported with
  :func:`~isplab.export.export_tflite` at a small input (the size does not depend on it) together with
  its parity proof and mobile-GPU audit verdict;
* the report's Table 1 size where the team has a row, and whether ours lies within +-25 % of it;
* CPU runtime at Full HD (packed 544x960 input) with :func:`~isplab.bench.bench_tflite` (2 threads, few
  runs) of the default (optimised) fp32 export, and the speed-up the export-time graph optimiser
  (:mod:`isplab.export.optimize`) gives over the un-optimised export (1.00x, not re-measured, where no
  rewrite applies: the two files are the same);
* fp16 (float16 weights) and int8 (full integer, calibrated on synthetic raws) exports: Full-HD runtime
  and PSNR against the fp32 model's output (parity samples: synthetic raws and, when ``../shared`` is
  present, the real frames). Untrained weights make that a statement about arithmetic, not picture quality;
  ``microisp`` and ``jmu_cvlab`` use their official trained weights when ``../shared`` is present.

A model whose estimated single run (Full-HD MACs from the graph / the best MAC rate measured so far on
this machine) exceeds ``--max-seconds`` is not run: the cell says ``not measured (> N s est.)``; global
self-attention (BATCH_MATMUL over all positions, quadratic in pixels) is not run either. Files with a
rewrite are built for one input size, so they are exported at Full HD for timing; the others at a small
input and resized.

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
from isplab.challenge.table1 import TABLE1, ReportRow
from isplab.export import export_tflite, inspect_tflite
from isplab.export.convert import reparameterize_for_export
from isplab.export.optimize import matches
from isplab.export.parity import ParityBudget
from isplab.export.samples import synthetic_samples
from isplab.models.registry import count_parameters, create_model, list_models, model_entry
from isplab.raw.readers import read_raw
from isplab.runtime import FULL_HD_INPUT

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "models.md"
SHARED = ROOT.parent / "shared"
FULL_HD = FULL_HD_INPUT
MB = 2**20
PRECISIONS = ("fp16", "int8")
#: Measure, don't gate: quantized files are kept whatever their loss (the table reports it).
LAX = ParityBudget(fp16_psnr_loss=99.0, int8_psnr_loss=99.0)
#: Official trained weights used where present: model -> (mapper options, file under ../shared).
TRAINED = {"microisp": ({}, ("peers", "microisp-official", "MicroISP.tflite")),
           "jmu_cvlab": ({"input_scale": 1020.0}, ("peers", "jmu-cvlab-mai22", "model.tflite"))}
REAL_FRAMES = {"fast-openisp-test-1920x1080-rggb-10bit.raw": {"width": 1920, "height": 1080, "white": 1020},
               "halide-bayer_small.png": {"cfa": "GRBG", "white": 1023}}
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


def real_frames() -> list:
    folder = SHARED / "data" / "real-raw"
    return [(name, read_raw(folder / name, **opts)) for name, opts in REAL_FRAMES.items() if (folder / name).is_file()]


def build(name: str) -> tuple:
    """The model to measure and where its weights come from."""
    from isplab.export import load_tflite_model

    torch.manual_seed(0)
    if name in TRAINED and SHARED.joinpath(*TRAINED[name][1]).is_file():
        options, parts = TRAINED[name]
        return load_tflite_model(name, SHARED.joinpath(*parts), **options).eval(), "official"
    official = SHARED.joinpath(*TRAINED["microisp"][1])
    if name == "microisp_0.5" and official.is_file():  # MicroISP 0.5 = the first generator of each colour
        model = create_model(name).eval()
        model.stages[0].load_state_dict(load_tflite_model("microisp", official).stages[0].state_dict())
        return model, "official (first generators)"
    model = create_model(name).eval()
    with torch.no_grad():  # zero-initialised gates (self-attention gamma): the converter would fold the
        for pname, p in model.named_parameters():  # whole gated branch and its weights out of the file
            if pname.endswith("gamma") and not p.any():
                p.fill_(0.5)
    return model, "initialised"


def timed(model, folder: Path, stem: str, size: tuple[int, int], runs: int, **export) -> tuple[float, object]:
    """Export at ``size`` (Full HD or small), then the median Full-HD runtime in ms and the report."""
    path = folder / f"{stem}.tflite"
    report = export_tflite(model, path, input_size=size, **export)
    return bench_tflite(path, input_size=FULL_HD, threads=2, runs=runs, warmup=1).median_ms, report


def measure(name: str, folder: Path, rate: float, max_seconds: float, runs: int, frames: list,
            max_quantized: float) -> tuple[dict, float]:
    """One table row; returns it and the updated best MAC rate."""
    model, weights = build(name)
    size = small_size(name)
    path = folder / f"{name}.tflite"
    start = time.perf_counter()
    report = export_tflite(model, path, input_size=size, optimize=False)
    row = {
        "name": name,
        "weights": weights,
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
    row["rewrites"] = sorted(set(matches(reparameterize_for_export(model), FULL_HD)))
    row["cpu_ms"], row["cpu_note"] = None, None
    if "BATCH_MATMUL" in row["op_histogram"]:  # attention over all positions: cost and memory grow as (HW)**2
        row["cpu_note"] = "not measured (global self-attention: (HW)^2 attention matrix, ~1 TB at Full HD)"
        return row, rate
    if est > max_seconds:
        row["cpu_note"] = f"not measured (> {est:.0f} s est.)"
        return row, rate
    try:
        plain_ms = bench_tflite(path, input_size=FULL_HD, threads=2, runs=runs, warmup=1).median_ms
        resizable = True
    except Exception as exc:  # noqa: BLE001 - a graph with shapes fixed at export: re-export at Full HD
        print(f"  {name}: resized run failed ({str(exc).splitlines()[0][:120]}); exporting at Full HD")
        plain_ms, _ = timed(model, folder, f"{name}-fullhd", FULL_HD, runs, optimize=False)
        resizable = False
    row["cpu_runs"] = runs
    # A file with a rewrite is built for one size, like one that does not resize: export at Full HD; else the
    # default export is the un-optimised file itself (same graph), exported small and resized.
    at = FULL_HD if row["rewrites"] or not resizable else size
    if row["rewrites"]:
        row["cpu_ms"], optimized = timed(model, folder, f"{name}-opt", FULL_HD, runs)
        row["optimized_bytes"] = optimized.size_bytes
        row["optimized_parity_max_abs"] = optimized.parity.max_abs
        row["optimized_gpu_clean"] = optimized.audit.clean
    else:
        row["cpu_ms"] = plain_ms
    row["cpu_ms_unoptimized"] = plain_ms
    row["speedup_optimization"] = plain_ms / row["cpu_ms"]
    calibration = [s.packed for s in synthetic_samples(size, n=8, seed=1)]
    quantized = PRECISIONS if row["cpu_ms"] <= 1e3 * max_quantized else ()
    for precision in set(PRECISIONS) - set(quantized):
        row[f"{precision}_note"] = f"not measured (fp32 > {max_quantized:g} s)"
    for precision in quantized:
        try:
            ms, q = timed(model, folder, f"{name}-{precision}", at, runs, precision=precision, budget=LAX,
                          calibration=calibration if precision == "int8" else None, raw_frames=frames)
        except Exception as exc:  # noqa: BLE001 - a precision that does not convert is a table entry
            row[f"{precision}_note"] = f"{exc.__class__.__name__}: {str(exc).splitlines()[0][:120]}"
            continue
        row[f"{precision}_ms"] = ms
        row[f"{precision}_psnr_vs_fp32"] = q.parity.psnr_vs_torch
        row[f"{precision}_within_default_budget"] = q.parity.psnr_vs_torch >= ParityBudget().min_psnr_vs_torch(
            precision)
    return row, max(rate, macs / (row["cpu_ms"] / 1e3))


def _cell_mb(mb: float | None) -> str:
    if mb is None:
        return "-"
    return f"{mb:.3f}" if mb < 10 else f"{mb:.1f}"


def _quantized(r: dict, precision: str) -> tuple[str, str]:
    """(runtime cell, PSNR-vs-fp32 cell) of one precision."""
    if f"{precision}_ms" not in r:
        return r.get(f"{precision}_note", "-"), "-"
    psnr = r[f"{precision}_psnr_vs_fp32"]
    mark = "" if r[f"{precision}_within_default_budget"] else " (over budget)"
    return f"{r[f'{precision}_ms']:,.0f}", ("inf" if psnr == float("inf") else f"{psnr:.1f}") + mark


def accel_cells(name: str) -> list[str]:
    """HTP compiled, HTP parity, GPU runtime, GPU parity for ``name`` from ``zoo_accel.py``'s results."""
    path = RESULTS / "zoo_accel.json"
    row = json.loads(path.read_text())["models"].get(name) if path.is_file() else None
    if row is None:
        return ["not measured"] * 4
    if "error" in row:
        return [f"failed: {row['error'][:60]}"] + ["-"] * 3
    cells = [row["cells"][k] for k in ("HTP compiled", "HTP parity", "GPU", "GPU parity")]
    if row["tile"][0] < 150:  # heavy models run at a smaller tile than the default 162x216
        cells[0] += f" ({row['tile'][0]}x{row['tile'][1]} tile)"
    return cells


def table_markdown(rows: list[dict]) -> str:
    lines = ["| model | params (fused) | fp32 TFLite MB | report MB | size vs report | CPU ms, Full HD | "
             "speed-up from optimisation | fp16 ms | fp16 PSNR vs fp32 dB | int8 ms | int8 PSNR vs fp32 dB | "
             "GPU audit (static rules) | HTP SM8450 compiled | HTP parity | GPU runtime | GPU parity |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{100 * (r['size_ratio'] - 1):+.0f}%" if r["size_ratio"] is not None else "-"
        cpu = f"{r['cpu_ms']:,.0f}" if r["cpu_ms"] is not None else r["cpu_note"]
        gain = "-" if r.get("speedup_optimization") is None else (
            f"{r['speedup_optimization']:.2f}x" if r.get("rewrites") else "1.00x (no rewrite)")
        audit = "clean" if r["gpu_clean"] and r.get("optimized_gpu_clean", True) else f"NOT clean: {r['gpu_audit']}"
        cells = [c for p in PRECISIONS for c in _quantized(r, p)]
        lines.append(f"| `{r['name']}` | {r['params_fused']:,} | {_cell_mb(r['tflite_mb'])} | "
                     f"{_cell_mb(r['report_mb'])} | {ratio} | {cpu} | {gain} | {' | '.join(cells)} | {audit} | "
                     + " | ".join(accel_cells(r["name"])) + " |")
    return "\n".join(lines)


def files_markdown() -> list[str]:
    """The submitted peer files on the accelerators (``zoo_accel.py --files``)."""
    path = RESULTS / "zoo_accel.json"
    files = json.loads(path.read_text()).get("files", {}) if path.is_file() else {}
    if not files:
        return []
    lines = ["The submitted files as they are, against the CPU interpreter running them:", "",
             "| file | tile | HTP SM8450 compiled | HTP parity | GPU runtime | GPU parity |",
             "|---|---|---|---|---|---|"]
    for name, row in files.items():
        c = row["cells"]
        lines.append(f"| {name} | {row['tile'][0]}x{row['tile'][1]} | {c['HTP compiled']} | {c['HTP parity']} | "
                     f"{c['GPU']} | {c['GPU parity']} |")
    return [*lines, ""]


def _paragraph(row: dict) -> str:
    """The factory docstring (one-line ones get their module docstring's first paragraph: the report
    section), then the measured file size from ``row`` (docstrings carry no measurements: they go stale)."""
    factory = model_entry(row["name"]).factory
    doc = inspect.cleandoc(factory.__doc__ or "")
    module_doc = inspect.cleandoc(inspect.getmodule(factory).__doc__ or "")
    if len([line for line in doc.splitlines() if line.strip()]) <= 2 and module_doc:
        doc = module_doc.split("\n\n")[0] + "\n\n" + doc
    measured = f"Measured fp32 TFLite (the table): {_cell_mb(row['tflite_mb'])} MB ({row['tflite_bytes']:,} B)."
    return " ".join(doc.split()) + " " + measured


def docs_markdown(rows: list[dict], failures: dict[str, str]) -> str:
    outside = [r for r in rows if r["size_ratio"] is not None and abs(r["size_ratio"] - 1) > 0.25]
    parts = [
        "# Model zoo",
        "",
        "<!-- generated by benchmarks/zoo_table.py; do not edit by hand -->",
        "",
        "Every registered model at its default size, re-parameterised (train-time branches fused), exported "
        "to fp32 TFLite with a parity proof and the mobile-GPU audit (`isplab.export.export_tflite`). "
        "MB = 2^20 bytes as in the report's Table 1 (MicroISP: 159,192 B = 0.152 MB) of the un-optimised "
        "file; the file size does not depend on the input size, so models are exported at a small input. CPU "
        "runtime: `isplab.bench.bench_tflite` at Full HD (packed 544x960 input, 1088x1920 output) of the "
        "default export, which runs the graph optimiser (`isplab.export.optimize`), LiteRT XNNPACK, 2 threads, "
        "median of a few runs on this project's shared 2-core machine (not the report's phone; other jobs "
        "share the cores, so compare rows of one run). *Speed-up from optimisation*: un-optimised / optimised "
        "runtime; where no rewrite applies the two files are the same (1.00x, not re-measured). fp16 (float16 "
        "weights) and int8 (full integer, calibrated on synthetic raws) columns: Full-HD runtime and the PSNR "
        "of the quantized file's output against the fp32 model on the parity samples (synthetic raws and the "
        "real frames of `../shared`); *over budget* marks a file that the default export would refuse (fp16: "
        "0.1 dB, int8: 1 dB target loss, bounded without targets as in `isplab.export.parity`). Weights are "
        "as initialised except `microisp` and `jmu_cvlab`, which use their official trained weights, and "
        "`microisp_0.5`, which takes the official MicroISP's first generator per colour (fresh MicroISP weights "
        "are N(0, 1e-3) with zero PReLU slopes: their tiny activations turn subnormal and time 2x slower); "
        "for the others the PSNR column speaks about arithmetic, not pictures. Models whose single Full-HD "
        "run is estimated above the time limit (MACs / best measured MAC rate) are not run.",
        "",
        "**Real accelerators** (`benchmarks/zoo_accel.py`, `isplab.accel`): each model exported at a small tile "
        "(162x216 packed, fitted to the model) as `isplab export` writes it, compiled for Qualcomm's HTP of the "
        "challenge's phone (SM8450, Snapdragon 8 Gen 1; ops offloaded / partitions) and run on Qualcomm's x86 "
        "HTP simulator in fp16 (PSNR against the PyTorch model), and run on LiteRT's GPU runtime (WebGPU on "
        "Mesa's CPU Vulkan driver): *fully accelerated* or the ops the runtime itself sends to the CPU, fp16 "
        "and fp32 PSNR against PyTorch. FAIL marks a wrong output (fp16: max-abs > 1e-2 or PSNR < 40 dB). The "
        "*GPU audit (static rules)* column is the rule table `isplab` falls back to where the GPU runtime is not "
        "set up; where the two disagree, the runtime is right. *not measured*: not run in the saved results.",
        "",
        table_markdown(rows),
        "",
        *files_markdown(),
    ]
    if failures:
        parts += ["**Not exported:** " + "; ".join(f"`{n}`: {e}" for n, e in failures.items()), ""]
    parts += [
        "**Weights change the file.** MicroISP's PReLU slopes start at 0 and identical constants share one "
        "buffer, so a fresh model's file is smaller than a trained one's: with the official weights imported, "
        "isplab's un-optimised export is 112,860 B (0.108 MB) against the official file's 159,192 B "
        "(0.152 MB), with bit-identical outputs (`tests/export/test_tensor_names.py`). isplab's exporter lowers "
        "PReLU to TFLite's PRELU and writes short tensor names; files written by TensorFlow carry long ones. "
        "Self-attention gates (`gamma`, initialised to 0) are set to 0.5 before export so the attention branch "
        "is not folded away.",
        "",
        "**The optimiser trades file size for speed.** MicroISP's space-to-depth rewrite stores each 3x3 "
        "4-channel convolution as a 2x2 16-channel one (7x the weights): "
        + (", ".join(f"`{r['name']}` {r['optimized_bytes'] / MB:.3f} MB" for r in rows if r.get("optimized_bytes"))
           or "see the rows with a speed-up")
        + " optimised, built for one input size (re-export per size; `isplab develop` tiles such a file at its "
          "own size).",
        "",
        _precision_paragraph(rows),
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
        parts += [f"### `{r['name']}`", "", _paragraph(r), ""]
    return "\n".join(parts)


def _precision_paragraph(rows: list[dict]) -> str:
    """fp16 / int8 against fp32 in words, from the measured rows."""
    both = [r for r in rows if r.get("cpu_ms") and r.get("int8_ms")]
    if not both:
        return "**fp16 and int8 on the CPU.** Not measured in this run."
    fp16 = [r["cpu_ms"] / r["fp16_ms"] for r in both if r.get("fp16_ms")]
    gain = sorted((r["cpu_ms"] / r["int8_ms"], r["name"]) for r in both)
    good = [r["name"] for r in both if r["int8_within_default_budget"]]
    over = [f"`{r['name']}` {r['int8_psnr_vs_fp32']:.1f} dB" for r in both if not r["int8_within_default_budget"]]
    slower = [f"`{n}` ({g:.2f}x)" for g, n in gain if g < 1]
    return (f"**fp16 and int8 on the CPU.** fp16 files run at fp32 speed ({min(fp16):.2f}-{max(fp16):.2f}x): "
            "XNNPACK widens float16 weights to float32 when it loads the model, so fp16 buys file size (and the "
            "GPU's native precision), not CPU time. int8 is usually the fastest CPU path: median "
            f"{sorted(g for g, _ in gain)[len(gain) // 2]:.1f}x faster than fp32 (up to {gain[-1][0]:.1f}x, "
            f"`{gain[-1][1]}`); {len(good)} of {len(both)} models stay within the 1 dB budget. What it costs: "
            + ", ".join(over) + " against their fp32 output"
            + (f"; slower than fp32: {', '.join(slower)}: their PReLU, which the quantizer cannot keep as one "
               "op, decomposes into RELU, SUB and two MUL per layer" if slower else "")
            + ". `microisp`/`jmu_cvlab` use trained weights, so their int8 loss is a picture-quality loss.")


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
    parser.add_argument("--max-quantized-seconds", type=float, default=3.0,
                        help="skip fp16/int8 for models whose fp32 Full-HD run takes longer (exports at Full HD "
                             "and int8 calibration of 100-MB models take many minutes)")
    parser.add_argument("--docs-only", action="store_true",
                        help="rewrite docs/models.md from the saved JSON (e.g. after editing docstrings)")
    args = parser.parse_args(argv)
    if args.docs_only:
        payload = json.loads((RESULTS / "zoo_table.json").read_text())
        write_text_atomic(DOCS, docs_markdown(payload["rows"], payload["failures"]) + "\n")
        return
    names = args.models.split(",") if args.models else list_models()
    rows, failures, rate = [], {}, START_RATE
    frames = real_frames()
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            print(f"{name} ...", flush=True)
            try:
                row, rate = measure(name, Path(tmp), rate, args.max_seconds, args.runs, frames,
                                    args.max_quantized_seconds)
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
