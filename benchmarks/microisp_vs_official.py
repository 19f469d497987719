"""isplab's exported ``microisp`` (official weights imported) vs the official ``MicroISP.tflite``, on CPU.

Both files run with LiteRT XNNPACK, same threads, same random input, in one process with interleaved
runs (isplab, official, [JMU], isplab, official, ...) so CPU frequency drift and load from other
processes hit every model alike. Sizes: the official file's own 1500x2000x4 and Full HD 544x960x4
(the official file resized; isplab exports one file per size). The JMU-CVLab peer model runs as a third
row at 544x960. The target is ratio isplab / official <= 1.0 at both sizes. Peak memory comes from a
separate one-run subprocess per file (``isplab.bench``) first. When the files of one size would not fit
in memory together (at 1500x2000 each LiteRT interpreter peaks near 10 GB), the timing falls back to
alternating blocks of 2 runs, one subprocess per block. Writes
``benchmarks/results/microisp_vs_official.{json,md}``.

    python benchmarks/microisp_vs_official.py [--threads 2] [--runs 10] [--warmup 2] [--skip-large]

Needs ``isplab.export.export_tflite`` (converter) and ``isplab.export.load_tflite_model`` (weight import).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from isplab.atomic import write_text_atomic
from isplab.bench import bench_tflite, bench_tflite_alternating, bench_tflite_interleaved

OUT = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared"
OFFICIAL = SHARED / "peers" / "microisp-official" / "MicroISP.tflite"
JMU = SHARED / "peers" / "jmu-cvlab-mai22" / "model.tflite"
LARGE, FULL_HD = (1500, 2000), (544, 960)


def _export_api():
    """The two functions this script needs from the export helpers, with a clear message if absent."""
    try:
        from isplab.export import export_tflite, load_tflite_model
    except (ImportError, AttributeError) as exc:
        sys.exit("microisp_vs_official: needs isplab.export.export_tflite(model, path, input_size=(H, W)) "
                 f"and isplab.export.load_tflite_model('microisp', path); not available ({exc})")
    return export_tflite, load_tflite_model


def _agreement(a: Path, b: Path, size: tuple[int, int], threads: int) -> dict:
    """PSNR (peak 1.0) and max |diff| between two files' outputs on one random input."""
    from isplab.export.parity import run_tflite

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
    export_tflite, load_tflite_model = _export_api()

    started = time.time()
    load_before = os.getloadavg()
    model = load_tflite_model("microisp", OFFICIAL)
    sizes = [FULL_HD] if args.skip_large else [LARGE, FULL_HD]
    results: dict = {"sizes": {}, "memory": {}}
    with tempfile.TemporaryDirectory(prefix="isplab-microisp-") as tmp:
        ours = {}
        for size in sizes:
            path = Path(tmp) / f"microisp_{size[0]}x{size[1]}.tflite"
            t = time.perf_counter()
            report = export_tflite(model, path, input_size=size)
            print(f"exported {path.name} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
            ours[size] = (path, report)
        for size in sizes:
            files = {"isplab microisp": ours[size][0], "official MicroISP": OFFICIAL}
            if size == FULL_HD:
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
            ratio = timed["isplab microisp"].median_ms / timed["official MicroISP"].median_ms
            results["sizes"][key] = {
                "timing_mode": mode,
                "rows": [_row(n, r) for n, r in timed.items()],
                "ratio_isplab_over_official": ratio,
                "agreement_isplab_vs_official": _agreement(ours[size][0], OFFICIAL, size, args.threads),
                "isplab_gpu_audit": ours[size][1].audit.summary(),
            }
    results["settings"] = {
        "threads": args.threads, "runs": args.runs, "warmup": args.warmup, "backend": "LiteRT XNNPACK (CPU)",
        "machine": " ".join(filter(None, [platform.machine(), platform.processor(), f"{os.cpu_count()} CPUs"])),
        "python": platform.python_version(), "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": time.time() - started,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    write_text_atomic(OUT / "microisp_vs_official.json", json.dumps(results, indent=2, allow_nan=False) + "\n")
    md = render(results)
    write_text_atomic(OUT / "microisp_vs_official.md", md)
    print(md)
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
              "| input | ratio isplab / official (median) | target | output agreement | isplab GPU audit |",
              "|---|---|---|---|---|"]
    for key, block in results["sizes"].items():
        ratio, agree = block["ratio_isplab_over_official"], block["agreement_isplab_vs_official"]
        verdict = "met" if ratio <= 1.0 else "missed"
        same = ("bit-identical" if agree["identical"] else
                f"{agree['psnr_db']:.1f} dB PSNR, max abs diff {agree['max_abs_diff']:.2e}")
        lines.append(f"| {key}x4 | {ratio:.3f} | <= 1.0 ({verdict}) | {same} | {block['isplab_gpu_audit']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
