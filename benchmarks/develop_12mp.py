"""Developing photos at the model's own speed: ``isplab develop`` end to end against the model's bare invokes,
measured in one run.

Each end-to-end figure is one ``python -m isplab develop ...`` process (Python start, imports, parser,
interpreter start, reading, tiles, blending, encoding, writing), wall clock, with its peak RSS read by
``wait4`` from a tiny launcher process (so no parent's peak is inherited). Bare figures come from
:class:`isplab.runtime.litert.LiteRTModel` in this process on random input after a warm-up:

* **12 MP** synthetic 4000x3000 RGGB 10-bit mosaic: bare compute = tile count x median invoke at the tile
  shape (the same tiles ``develop`` runs). Target: end to end <= 1.5x bare, peak RSS < 1 GiB.
* **Full HD**, the real 1920x1080 frame in ``../shared/data/real-raw``: bare = one whole-frame invoke
  (median) + interpreter start (create + allocate at that size). Target: end to end <= 2x bare.
* **N = 10** copies of the real frame in a folder, one ``develop`` call: per-file time (total / N and the
  marginal (total_N - total_1) / (N - 1)).

Weights: the official ``MicroISP.tflite`` (resized to the 256x256 tiles) and isplab's optimised export of
the same weights built for 256x256 tiles (``--no-resize``). Also times ``isplab --help`` and
``isplab develop --help`` (median of 5 processes). Writes ``benchmarks/results/develop_12mp.{json,md}``.

    python benchmarks/develop_12mp.py [--threads 2] [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import write_results  # benchmarks/_results.py

from isplab.develop.tiling import plan_tiles
from isplab.raw.bayer import MAI_WHITE_LEVEL, unpack
from isplab.runtime.litert import LiteRTModel

SHARED = Path(__file__).resolve().parents[2] / "shared"
OFFICIAL = SHARED / "peers" / "microisp-official" / "MicroISP.tflite"
REAL = SHARED / "data" / "real-raw" / "fast-openisp-test-1920x1080-rggb-10bit.raw"
WIDTH, HEIGHT = 4000, 3000
TILE, OVERLAP = 256, 32
TARGET_12MP, TARGET_FULL_HD, TARGET_RSS_MB = 1.5, 2.0, 1024

#: ``wait4`` launcher: runs argv[1:], prints wall seconds and the child's peak RSS (KiB) as JSON.
LAUNCHER = ("import json, os, sys, time; t = time.perf_counter(); "
            "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ); _, status, ru = os.wait4(pid, 0); "
            "print(json.dumps({'seconds': time.perf_counter() - t, 'peak_rss_mb': ru.ru_maxrss / 1024, "
            "'exit': os.waitstatus_to_exitcode(status)}))")


def synthetic_mosaic(path: Path, seed: int = 0) -> Path:
    """A 4000x3000 10-bit RGGB dump: smooth colour gradients, hard edges, sensor-like noise (canonical
    packed planes, mosaicked by :func:`isplab.raw.bayer.unpack`)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, HEIGHT // 2, dtype=np.float32),
                         np.linspace(0, 1, WIDTH // 2, dtype=np.float32), indexing="ij")
    planes = []
    for gain in (0.6, 1.0, 0.5, 1.0):  # B, G_r, R, G_b
        plane = 0.3 + 0.2 * np.sin(2 * np.pi * (3 * yy + 2 * xx) + rng.uniform(0, 6))
        plane *= 0.6 + 0.4 * ((xx * 7).astype(int) % 2)  # vertical bars: hard edges
        planes.append(gain * plane + rng.normal(0, 0.01, plane.shape).astype(np.float32))
    mosaic = unpack(np.clip(np.stack(planes) * MAI_WHITE_LEVEL, 0, MAI_WHITE_LEVEL).astype(np.uint16), "RGGB")
    mosaic.astype("<u2").tofile(path)
    return path


def run_process(argv: list[str], repeats: int = 1) -> dict:
    """Wall seconds (median of ``repeats`` processes: this shared machine is noisy) and the largest peak RSS
    (through the ``wait4`` launcher)."""
    runs = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], capture_output=True, text=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if result["exit"] != 0:
            raise SystemExit(f"develop_12mp: {' '.join(argv[2:6])} ... failed (exit {result['exit']})")
        runs.append(result)
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "all_seconds": [r["seconds"] for r in runs]}


def develop_cmd(inputs: list[Path], weights: Path, out: Path, geometry: tuple[int, int], threads: int,
                fixed: bool) -> list[str]:
    cmd = [sys.executable, "-m", "isplab", "develop", *map(str, inputs), "--weights", str(weights),
           "--out", str(out), "--width", str(geometry[1]), "--height", str(geometry[0]), "--white",
           str(MAI_WHITE_LEVEL), "--threads", str(threads), "--quiet"]
    return cmd + (["--no-resize"] if fixed else [])


def bare_invoke(weights: Path, shape: tuple[int, int], threads: int, runs: int) -> dict:
    """Interpreter start (create, allocate at ``shape``) and the median warm invoke, in seconds."""
    t = time.perf_counter()
    model = LiteRTModel(weights, threads)
    created = time.perf_counter() - t
    x = np.random.default_rng(0).random((1, *shape, 4), dtype=np.float32)
    t = time.perf_counter()
    model.resize(x.shape)
    allocated = time.perf_counter() - t
    model.set_input(x)
    model.invoke()  # first touch of the arena
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        model.invoke()
        times.append(time.perf_counter() - t)
    return {"start_s": created + allocated, "invoke_s": statistics.median(times)}


def help_seconds(args: list[str], n: int = 5) -> float:
    return statistics.median(run_process([sys.executable, "-m", "isplab", *args, "--help"])["seconds"]
                             for _ in range(n))


def measure(name: str, weights: Path, full_hd_weights: Path, fixed: bool, raw12: Path, folder: Path,
            tmp: Path, threads: int, runs: int, repeats: int) -> dict:
    print(f"{name}: 12 MP ...", flush=True)
    e2e12 = run_process(develop_cmd([raw12], weights, tmp / "o12", (HEIGHT, WIDTH), threads, fixed), repeats)
    tiles = plan_tiles((HEIGHT // 2, WIDTH // 2), (TILE, TILE), OVERLAP).count
    tile_bare = bare_invoke(weights, (TILE, TILE), threads, runs)
    print(f"{name}: Full HD ...", flush=True)
    e2e_hd = run_process(develop_cmd([REAL], weights, tmp / "ohd", (1080, 1920), threads, fixed), repeats)
    hd_bare = bare_invoke(full_hd_weights, (540, 960), threads, max(3, runs // 3))
    print(f"{name}: 10 files ...", flush=True)
    e2e_n = run_process(develop_cmd([folder], weights, tmp / "on", (1080, 1920), threads, fixed), repeats)
    n = len(list(folder.iterdir()))
    bare12 = tiles * tile_bare["invoke_s"]
    return {
        "weights": name,
        "12mp": {"seconds": e2e12["seconds"], "peak_rss_mb": e2e12["peak_rss_mb"], "tiles": tiles,
                 "tile_invoke_s": tile_bare["invoke_s"], "bare_s": bare12, "ratio": e2e12["seconds"] / bare12},
        "full_hd": {"seconds": e2e_hd["seconds"], "peak_rss_mb": e2e_hd["peak_rss_mb"], **hd_bare,
                    "ratio": e2e_hd["seconds"] / (hd_bare["invoke_s"] + hd_bare["start_s"])},
        "folder": {"files": n, "seconds": e2e_n["seconds"], "per_file_s": e2e_n["seconds"] / n,
                   "marginal_per_file_s": (e2e_n["seconds"] - e2e_hd["seconds"]) / (n - 1)},
    }


def render(result: dict) -> str:
    s = result["settings"]
    lines = [
        "# Developing photos at the model's own speed (CPU)",
        "",
        f"`isplab develop` end to end (one process: Python start, imports, parser, interpreter start, read, "
        f"tiles of {TILE} packed px with overlap {OVERLAP}, blend, encode, write 8-bit PNG) against the model's "
        f"bare invokes, one run (each end-to-end figure the median of {s.get('repeats', 1)} processes, each bare one "
        f"the median of {s['runs']} invokes); {s['threads']} threads; {s['machine']}; {s['date']}; load average "
        f"{s['loadavg_before'][0]:.2f} before, {s['loadavg_after'][0]:.2f} after. "
        f"`isplab --help` {result['help_s']['isplab']:.2f} s, `isplab develop --help` "
        f"{result['help_s']['develop']:.2f} s (median of 5 processes).",
        "",
        f"| weights | 12 MP e2e s | bare s ({result['rows'][0]['12mp']['tiles']} tiles x invoke) | e2e / bare "
        f"(<= {TARGET_12MP}) | peak RSS MB (< {TARGET_RSS_MB}) | Full-HD e2e s | bare invoke + start s | "
        f"e2e / bare (<= {TARGET_FULL_HD}) | 10 files s | per file s (marginal) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        a, b, c = r["12mp"], r["full_hd"], r["folder"]
        lines.append(
            f"| {r['weights']} | {a['seconds']:.2f} | {a['bare_s']:.2f} | {a['ratio']:.2f} | "
            f"{a['peak_rss_mb']:.0f} | {b['seconds']:.2f} | {b['invoke_s']:.2f} + {b['start_s']:.2f} | "
            f"{b['ratio']:.2f} | {c['seconds']:.2f} | {c['per_file_s']:.2f} ({c['marginal_per_file_s']:.2f}) |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10, help="timed invokes per bare figure (median)")
    parser.add_argument("--repeats", type=int, default=3, help="develop processes per end-to-end figure (median)")
    args = parser.parse_args(argv)
    for path in (OFFICIAL, REAL):
        if not path.is_file():
            sys.exit(f"develop_12mp: {path} not found; it ships in shared/ beside the repository")
    from isplab.export import export_tflite, load_tflite_model

    started, load_before = time.time(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="isplab-develop-") as tmp:
        tmp = Path(tmp)
        raw12 = synthetic_mosaic(tmp / f"synthetic-{WIDTH}x{HEIGHT}-rggb-10bit.raw")
        folder = tmp / "ten"
        folder.mkdir()
        for i in range(10):
            shutil.copy(REAL, folder / f"frame{i}.raw")
        model = load_tflite_model("microisp", OFFICIAL)
        ours = {size: tmp / f"microisp-{size[0]}x{size[1]}.tflite" for size in [(TILE, TILE), (540, 960)]}
        for size, path in ours.items():
            export_tflite(model, path, input_size=size)
        rows = [
            measure("official MicroISP.tflite", OFFICIAL, OFFICIAL, False, raw12, folder, tmp, args.threads,
                    args.runs, args.repeats),
            measure(f"isplab optimised export ({TILE}x{TILE}, --no-resize)", ours[(TILE, TILE)], ours[(540, 960)],
                    True, raw12, folder, tmp, args.threads, args.runs, args.repeats),
        ]
        help_s = {"isplab": help_seconds([]), "develop": help_seconds(["develop"])}
    result = {"frame_12mp": [HEIGHT, WIDTH], "tile": TILE, "overlap": OVERLAP, "rows": rows, "help_s": help_s,
              "targets": {"12mp_ratio": TARGET_12MP, "full_hd_ratio": TARGET_FULL_HD, "peak_rss_mb": TARGET_RSS_MB},
              "settings": {"threads": args.threads, "runs": args.runs, "repeats": args.repeats,
                           "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
                           "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
                           "loadavg_before": load_before, "loadavg_after": os.getloadavg()}}
    write_results("develop_12mp", result, render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
