"""Develop a synthetic 12 MP raw (4000x3000 RGGB 10-bit mosaic) with ``microisp`` through PyTorch and
through TFLite, tiled; report seconds and peak memory (target: < 2 GiB on a 2-core CPU).

Weights: the official MicroISP release when ``../shared`` is present (imported into a checkpoint for
PyTorch; the official ``MicroISP.tflite``, resized to the tile, for TFLite), else a random ``microisp``
(exported with ``isplab.export.export_tflite``). Each run is one end-to-end ``develop_file`` (read the
.raw, tile, blend, write an 8-bit PNG) in a fresh subprocess (``isplab.develop.measure``). Writes
``benchmarks/results/develop_12mp.{json,md}``.

    python benchmarks/develop_12mp.py [--tile 512] [--overlap 32] [--threads 2]

Rows: PyTorch at ``--tile``, TFLite at ``--tile`` and at half of it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from isplab.atomic import write_text_atomic
from isplab.develop.measure import measure_develop

OUT = Path(__file__).resolve().parent / "results"
SHARED = Path(__file__).resolve().parents[2] / "shared"
OFFICIAL = SHARED / "peers" / "microisp-official" / "MicroISP.tflite"
WIDTH, HEIGHT = 4000, 3000
TARGET_MB = 2048


def synthetic_mosaic(path: Path, seed: int = 0) -> Path:
    """A 4000x3000 10-bit RGGB dump: smooth colour gradients, a few hard edges, sensor-like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(0, 1, HEIGHT // 2, dtype=np.float32),
                         np.linspace(0, 1, WIDTH // 2, dtype=np.float32), indexing="ij")
    mosaic = np.empty((HEIGHT, WIDTH), dtype=np.uint16)
    for (dy, dx), gain in zip([(0, 0), (0, 1), (1, 0), (1, 1)], [0.5, 1.0, 1.0, 0.6], strict=True):
        plane = 0.3 + 0.2 * np.sin(2 * np.pi * (3 * yy + 2 * xx) + rng.uniform(0, 6))
        plane *= 0.6 + 0.4 * ((xx * 7).astype(int) % 2)  # vertical bars: hard edges
        plane = gain * plane + rng.normal(0, 0.01, plane.shape).astype(np.float32)
        mosaic[dy::2, dx::2] = np.clip(plane * 1020, 0, 1020).astype(np.uint16)
    mosaic.astype("<u2").tofile(path)
    return path


def weights(tmp: Path) -> tuple[dict[str, Path], str]:
    """``{backend: weights file}`` and a description of where the weights come from."""
    from isplab.train.checkpoint import model_checkpoint, save_checkpoint

    if OFFICIAL.is_file():
        from isplab.export import load_tflite_model

        model = load_tflite_model("microisp", OFFICIAL)
        ckpt = save_checkpoint(tmp / "microisp.pt", model_checkpoint("microisp", {}, model))
        return {"pytorch": ckpt, "tflite": OFFICIAL}, f"official MicroISP ({OFFICIAL.name}, imported for PyTorch)"
    import torch

    from isplab.export import export_tflite
    from isplab.models import create_model

    torch.manual_seed(0)
    model = create_model("microisp").eval()
    ckpt = save_checkpoint(tmp / "microisp.pt", model_checkpoint("microisp", {}, model))
    export_tflite(model, tmp / "microisp.tflite", input_size=(512, 512), real_raw_dir=None)
    return {"pytorch": ckpt, "tflite": tmp / "microisp.tflite"}, "random microisp (../shared absent)"


def render(result: dict) -> str:
    lines = [
        "# Develop a 12 MP raw with microisp (tiled, CPU)",
        "",
        f"Synthetic {WIDTH}x{HEIGHT} RGGB 10-bit mosaic; weights: {result['weights']}; overlap "
        f"{result['overlap']} packed pixels; {result['threads']} threads; {result['machine']}; {result['date']}. "
        "End to end: read .raw, tiled inference with blending, write 8-bit PNG, one fresh subprocess per row. "
        "Peak memory = RSS high-water growth after imports (whole-process peak in brackets). "
        f"Target: peak < {TARGET_MB} MB. Shared machine: times are noisy.",
        "",
        "| backend | tile (packed px) | seconds | peak growth MB | process peak MB | < 2 GiB |",
        "|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(f"| {row['backend']} | {row['tile']} | {row['seconds']:.1f} | {row['peak_growth_mb']:.0f} | "
                     f"{row['process_peak_mb']:.0f} | {'yes' if row['process_peak_mb'] < TARGET_MB else 'NO'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="isplab-develop-12mp-") as tmp:
        tmp = Path(tmp)
        raw = synthetic_mosaic(tmp / f"synthetic-{WIDTH}x{HEIGHT}-rggb-10bit.raw")
        files, source = weights(tmp)
        rows = []
        # The LiteRT interpreter's arena grows with the tile (about 4 KB per packed pixel for MicroISP),
        # so TFLite also runs at half the tile side to show the memory / tile-size trade-off.
        runs = [("pytorch", args.tile), ("tflite", args.tile), ("tflite", args.tile // 2)]
        for backend, tile in runs:
            path = files[backend]
            print(f"developing with {backend} ({path.name}), tile {tile} ...", flush=True)
            res = measure_develop(raw, path, tmp / f"{backend}-{tile}", tile, args.overlap, "png",
                                  {"width": WIDTH, "height": HEIGHT, "bit_depth": 10, "white": 1020}, args.threads)
            res.pop("output")
            rows.append({"backend": backend, "tile": tile, "weights_file": path.name, **res})
            print(json.dumps(rows[-1]), flush=True)
    result = {"frame": [HEIGHT, WIDTH], "weights": source, "overlap": args.overlap,
              "threads": args.threads, "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "target_mb": TARGET_MB, "rows": rows}
    OUT.mkdir(parents=True, exist_ok=True)
    write_text_atomic(OUT / "develop_12mp.json", json.dumps(result, indent=2) + "\n")
    write_text_atomic(OUT / "develop_12mp.md", render(result))
    print(render(result))


if __name__ == "__main__":
    main()
