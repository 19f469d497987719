"""Paired vs unpaired vs semi-supervised training of the same model, on the embedded data.

For each model (``microisp``, ``mialgo_3conv``): the challenge's quick plan (steps, batch, crop, LR) trained
three ways: **paired** (the plan's own supervised loss on the embedded pairs), **unpaired** (objective
``unpaired``: raws of the photos ``coffee, rocket, immunohistochemistry``, RGB targets drawn from
``astronaut, hubble_deep_field``, never the same photo) and **semi-supervised** (unpaired + 10 fixed aligned
crops of the raw-side photos). Same steps for all three. Scored on the val photo (chelsea) and the test
photo (motorcycle_left), 8 cameras each, beside the classical ISP and the CVPRW 2025 weights (Arhire &
Timofte; EfficientISP paired and unpaired, imported from ``../shared/peers/arhire-cvprw25``, scored as
``isplab eval`` scores them: their Fujifilm raw domain, no adaptation). A crop of the first val image per
row goes to ``benchmarks/results/unpaired_crops/``.

Every row is resumable and cached in ``--work`` (default ``/tmp/isplab-unpaired``); run rows separately to
keep each CPU hold short:

    python benchmarks/unpaired.py --rows microisp:unpaired,mialgo_3conv:unpaired [--steps N]
    python benchmarks/unpaired.py            # every row not cached yet, then the table
"""

from __future__ import annotations

import argparse
import json
import platform
from dataclasses import replace
from pathlib import Path

from _results import RESULTS, write_results  # benchmarks/_results.py

MODELS = ("microisp", "mialgo_3conv")
MODES = ("paired", "unpaired", "semi")
PAIRS = 10
ARHIRE = Path(__file__).resolve().parents[2] / "shared" / "peers" / "arhire-cvprw25" / "models" / "Fujifilm"
PEERS = {"CVPRW25 EfficientISP unpaired": "Efficient_ISP_unpaired_step_27220.pth",
         "CVPRW25 EfficientISP paired": "Efficient_ISP_paired_step_37580.pth"}


def config(model: str, mode: str, steps: int | None):  # -> TrainConfig
    """The quick plan of ``model`` (isplab challenge), trained ``mode``."""
    from isplab.challenge.run import BUDGETS, challenge_config
    from isplab.train.config import ObjectiveConfig, UnpairedConfig

    cfg = challenge_config(model, BUDGETS["quick"], None)
    if steps is not None:
        cfg = cfg.with_total_steps(steps)
    if mode == "paired":
        return cfg
    kwargs = {"pairs": PAIRS} if mode == "semi" else {}
    stages = [replace(s, objective=ObjectiveConfig("unpaired", kwargs)) for s in cfg.stages]
    return replace(cfg, stages=stages, data=replace(cfg.data, unpaired=UnpairedConfig()))


def scores(model, images) -> dict[str, float]:
    from isplab.evaluate import evaluate

    m = evaluate(model, images, batch_size=4)
    return {k: round(float(m[k]), 4) for k in ("psnr", "ssim", "delta_e")}


def save_crop(model, images, name: str) -> str:
    import torch

    from isplab.challenge.run import _to_png

    raw, _ = images.first()
    with torch.no_grad():
        out = model.eval()(raw[None])[0].clamp(0, 1)
    return _to_png(out[:, 64:320, 96:352], RESULTS / "unpaired_crops" / f"{name}.png")


def run_row(model: str, mode: str, work: Path, steps: int | None) -> dict:
    from isplab.models.weights import load_model_from_checkpoint
    from isplab.train.data import embedded_eval
    from isplab.train.engine import train

    cached = work / f"{model}_{mode}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    cfg = config(model, mode, steps)
    run = work / f"{model}_{mode}"
    result = train(cfg, run, resume=(run / "checkpoints" / "last.pt").is_file(), progress=False)
    net, _ = load_model_from_checkpoint(run / "checkpoints" / "last.pt")
    val, test = embedded_eval(cfg.data)
    row = {"row": f"{model} {mode}", "model": model, "mode": mode, "steps": cfg.total_steps,
           "train_s": round(result.metrics.get("train_s", 0.0), 1), "val": scores(net, val),
           "test": scores(net, test), "crop": save_crop(net, val, f"{model}_{mode}")}
    cached.write_text(json.dumps(row))
    return row


def reference_rows() -> list[dict]:
    """The classical ISP and the CVPRW 2025 weights on the same images."""
    from isplab.models.imports import import_pytorch
    from isplab.train.config import DataConfig
    from isplab.train.data import classic_for, embedded_eval

    data = DataConfig()
    val, test = embedded_eval(data)
    isp = classic_for(data)
    rows = [{"row": "classical ISP", "mode": isp.describe(), "val": scores(isp, val), "test": scores(isp, test)}]
    for name, file in PEERS.items():
        if (ARHIRE / file).is_file():
            _, net, _ = import_pytorch("efficientisp", ARHIRE / file)
            rows.append({"row": name, "mode": file, "val": scores(net, val), "test": scores(net, test),
                         "crop": save_crop(net, val, name.replace(" ", "_"))})
    return rows


def markdown(rows: list[dict], classic: float) -> list[str]:
    lines = ["# Paired vs unpaired vs semi-supervised training (embedded data)", "",
             "Same model, same quick-plan steps; val = chelsea x 8 cameras, test = motorcycle_left x 8 cameras "
             "(never trained on). `benchmarks/unpaired.py`.", "",
             "| row | steps | val PSNR | val SSIM | val ΔE2000 | vs classical | test PSNR / SSIM / ΔE | crop |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        v, t = r["val"], r["test"]
        crop = f"![]({r['crop']})" if r.get("crop") else ""
        lines.append(f"| {r['row']} | {r.get('steps', '')} | {v['psnr']:.2f} | {v['ssim']:.3f} | "
                     f"{v['delta_e']:.2f} | {v['psnr'] - classic:+.2f} dB | "
                     f"{t['psnr']:.2f} / {t['ssim']:.3f} / {t['delta_e']:.2f} | {crop} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", help="model:mode,... (modes: paired, unpaired, semi); default: all")
    parser.add_argument("--steps", type=int, help="override the quick plans' steps (all rows alike)")
    parser.add_argument("--work", default="/tmp/isplab-unpaired")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    wanted = [tuple(r.split(":")) for r in args.rows.split(",")] if args.rows else [
        (m, mode) for m in MODELS for mode in MODES]
    rows = [run_row(m, mode, work, args.steps) for m, mode in wanted]
    if args.rows:
        return
    refs = reference_rows()
    classic = refs[0]["val"]["psnr"]
    write_results("unpaired", {"machine": platform.machine(), "rows": [*refs, *rows]},
                  markdown([*refs, *rows], classic))


if __name__ == "__main__":
    main()
