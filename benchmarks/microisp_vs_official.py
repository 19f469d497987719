"""isplab's exported ``microisp`` (official weights imported) vs the official ``MicroISP.tflite``, on CPU.

All files run with LiteRT XNNPACK, same threads, same random input, in one process with interleaved
runs (official, isplab optimised, isplab un-optimised, [JMU], official, ...) so CPU frequency drift and
load from other processes hit every model alike. Sizes: the official file's own 1500x2000x4 and Full HD
544x960x4 (the official file resized; isplab exports one file per size). isplab's export runs the graph
optimiser (``isplab.export.optimize``); the un-optimised export (``optimize=False``) shows what the
optimiser gains; the JMU-CVLab peer model runs as a further row at 544x960. The target is official /
isplab >= 1.5 (isplab 1.5x faster) at both sizes with outputs within 1e-5 of the official file's. Peak
memory comes from a separate one-run subprocess per file (``isplab.bench``) first; at 1500x2000 the
un-optimised export (like the official file, ~10 GB there) is left out of the timing so the other two fit
in memory together, else the timing falls back to alternating blocks of 2 runs, one subprocess per
block. Writes ``benchmarks/results/microisp_vs_official.{json,md}``.

    python benchmarks/microisp_vs_official.py [--threads 2] [--runs 10] [--warmup 2] [--skip-large]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import write_results

from isplab.bench import bench_tflite, bench_tflite_alternating, bench_tflite_interleaved
from isplab.runtime import FULL_HD_INPUT

SHARED = Path(__file__).resolve().parents[2] / "shared"
OFFICIAL = SHARED / "peers" / "microisp-official" / "MicroISP.tflite"
JMU = SHARED / "peers" / "jmu-cvlab-mai22" / "model.tflite"
LARGE, FULL_HD = (1500, 2000), FULL_HD_INPUT


TARGET = 1.5  #: official / isplab median time
ISPLAB, PLAIN, OFFICIAL_ROW = "isplab microisp", "isplab microisp (un-optimised)", "official MicroISP"


def _agreement(a: Path, b: Path, size: tuple[int, int], threads: int) -> dict:
    """PSNR (peak 1.0) and max |diff| between two files' outputs on one random input."""
    from isplab.runtime.litert import run_tflite

    x = np.random.default_rng(0).random((1, *size, 4), dtype=np.float32)
    ya, yb = run_tflite(a, [x], threads)[0], run_tflite(b, [x], threads)[0]
    mse = float(np.mean((ya - yb) ** 2))
    # PSNR is infinite for identical outputs; JSON has no infinity, so say "identical" instead.
    return {"input": [1, *size, 4], "identical": mse == 0.0,
            "psnr_db": None if mse == 0.0 else float(-10 * np.log10(mse)),
            "max_abs_diff": float(np.max(np.abs(ya - yb)))}


def _mem_available_mb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _row(name: str, r) -> dict:
    return {"name": name, "file": r.model, "size_bytes": r.file_size_bytes, "input": r.input_shape,
            "median_ms": r.median_ms, "mean_ms": r.mean_ms, "std_ms": r.std_ms, "min_ms": r.min_ms,
            "p90_ms": r.p90_ms, "times_ms": r.times_ms}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--skip-large", action="store_true", help="only 544x960 (quick)")
    args = ap.parse_args(argv)
    for p in (OFFICIAL, JMU):
        if not p.is_file():
            sys.exit(f"microisp_vs_official: {p} not found; it ships in shared/peers/ beside the repository")
    from isplab.export import export_tflite, load_tflite_model

    started = time.time()
    load_before = os.getloadavg()
    model = load_tflite_model("microisp", OFFICIAL)
    sizes = [FULL_HD] if args.skip_large else [LARGE, FULL_HD]
    results: dict = {"sizes": {}, "memory": {}}
    with tempfile.TemporaryDirectory(prefix="isplab-microisp-") as tmp:
        ours, plain = {}, {}
        for size in sizes:
            for optimize, into in ((True, ours), (False, plain)):
                path = Path(tmp) / f"microisp_{size[0]}x{size[1]}{'' if optimize else '_plain'}.tflite"
                t = time.perf_counter()
                report = export_tflite(model, path, input_size=size, optimize=optimize)
                print(f"exported {path.name} in {time.perf_counter() - t:.1f} s ({report.rewrites or 'no rewrite'})",
                      file=sys.stderr)
                into[size] = (path, report)
        for size in sizes:
            files = {OFFICIAL_ROW: OFFICIAL, ISPLAB: ours[size][0]}
            if size == FULL_HD:
                files[PLAIN] = plain[size][0]
                files["JMU-CVLab"] = JMU
            key = f"{size[0]}x{size[1]}"
            # Memory first: it decides whether the files fit in memory together.
            mem = {n: bench_tflite(f, size, args.threads, runs=1, warmup=0).peak_mem_mb
                   for n, f in files.items()}
            results["memory"][key] = mem
            need = sum(mem.values()) * 1.2
            avail = _mem_available_mb()
            mode = "interleaved" if avail is None or need < avail else "alternating blocks"
            print(f"timing {key}x4: {', '.join(files)} ({mode})", file=sys.stderr)
            if mode == "interleaved":
                timed = bench_tflite_interleaved(files, size, args.threads, args.runs, args.warmup)
            else:
                timed = bench_tflite_alternating(files, size, args.threads, args.runs, warmup=1, block=2)
            results["sizes"][key] = {
                "timing_mode": mode,
                "rows": [_row(n, r) for n, r in timed.items()],
                "speedup_official_over_isplab": timed[OFFICIAL_ROW].median_ms / timed[ISPLAB].median_ms,
                "speedup_from_optimisation": (timed[PLAIN].median_ms / timed[ISPLAB].median_ms
                                              if PLAIN in timed else None),
                "agreement_isplab_vs_official": _agreement(ours[size][0], OFFICIAL, size, args.threads),
                "isplab_rewrites": ours[size][1].rewrites,
                "isplab_size_bytes": ours[size][1].size_bytes,
                "isplab_parity": ours[size][1].parity.rule,
                "isplab_gpu_audit": ours[size][1].audit.summary(),
            }
    results["settings"] = {
        "threads": args.threads, "runs": args.runs, "warmup": args.warmup, "backend": "LiteRT XNNPACK (CPU)",
        "machine": " ".join(filter(None, [platform.machine(), platform.processor(), f"{os.cpu_count()} CPUs"])),
        "python": platform.python_version(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": time.time() - started,
    }
    write_results("microisp_vs_official", results, render(results))
    return 0


def render(results: dict) -> str:
    s = results["settings"]
    lines = ["# isplab microisp export vs official MicroISP.tflite (CPU)", "",
             f"LiteRT XNNPACK, {s['threads']} threads, {s['runs']} timed runs per model after "
             f"{s['warmup']} warm-up, interleaved (A, B, A, B, ...) unless marked; {s['machine']}; "
             f"load average {s['loadavg_before'][0]:.2f} before, {s['loadavg_after'][0]:.2f} after. "
             "Timings on a shared machine are noisy: compare rows of one run, not runs. Peak memory: one "
             "run in a fresh subprocess, growth over the process baseline.", "",
             "| input | model | file KB | median ms | mean ± std ms | min ms | p90 ms | peak mem MB |",
             "|---|---|---|---|---|---|---|---|"]
    for key, block in results["sizes"].items():
        mem = results["memory"].get(key, {})
        mark = "" if block["timing_mode"] == "interleaved" else " (alternating blocks of 2 runs)"
        for r in block["rows"]:
            m = mem.get(r["name"])
            lines.append(f"| {key}x4{mark} | {r['name']} | {r['size_bytes'] / 1024:.1f} | "
                         f"{r['median_ms']:.1f} | {r['mean_ms']:.1f} ± {r['std_ms']:.1f} | "
                         f"{r['min_ms']:.1f} | {r['p90_ms']:.1f} | {'—' if m is None else f'{m:.0f}'} |")
    lines += ["",
              "| input | speed-up official / isplab (median) | target | from optimisation | output vs official "
              "| isplab parity | isplab GPU audit |",
              "|---|---|---|---|---|---|---|"]
    for key, block in results["sizes"].items():
        ratio, agree = block["speedup_official_over_isplab"], block["agreement_isplab_vs_official"]
        verdict = "met" if ratio >= TARGET and agree["max_abs_diff"] <= 1e-5 else "missed"
        same = ("bit-identical" if agree["identical"] else
                f"max abs diff {agree['max_abs_diff']:.2e} ({agree['psnr_db']:.1f} dB PSNR)")
        gain = block["speedup_from_optimisation"]
        lines.append(f"| {key}x4 | {ratio:.2f}x | >= {TARGET}x ({verdict}) | "
                     f"{'—' if gain is None else f'{gain:.2f}x'} | {same} | {block['isplab_parity']} | "
                     f"{block['isplab_gpu_audit']} |")
    lines += ["", "isplab's file: " + ", ".join(
        f"{key}: {b['isplab_size_bytes'] / 1024:.0f} KiB, rewrites {', '.join(sorted(set(b['isplab_rewrites'])))}"
        for key, b in results["sizes"].items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
