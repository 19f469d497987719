"""Few-shot adaptation to a camera unseen in pretraining: PSNR/ΔE against the number of pairs (shots).

The model is isplab's shipped ``pretrained:smallnet`` (trained on the embedded data stream with the default
:class:`~isplab.data.camera.CameraFamily`). Camera B is a synthetic camera clearly outside that family:
another of Brooks et al.'s colour matrices, white-balance gains the family never draws (red 1.2-1.4 instead
of 1.9-2.4, blue 2.6-3.0 instead of 1.5-1.9) and a black level of 48 codes (the family's is 0). Its paired
folder (``isplab.data.synthesize_dataset``: 50 train, 16 val, 32 test pairs, 256x256, photos of the
embedded train/val/test splits) is the whole "new camera".

``isplab adapt`` (:func:`isplab.train.adapt.adapt_config`) fine-tunes on the first N training pairs for
N = 1, 5, 10, 50 (3 seeds each; scored after the last step, no checkpoint picked on validation); shots 0
is the pretrained model as shipped. References: the same model trained from scratch on the 50 pairs, and
the classical ISP told camera B's colour matrix. Every score is on the folder's 32 test pairs (photos never
trained on). The learning rate is chosen first on the **val** pairs (10 shots; the sweep is reported
too) and used for every row; ``isplab adapt``'s default (:data:`isplab.train.adapt.DEFAULT_LR`) follows it.
Writes ``benchmarks/results/few_shot.{json,md}``.

    python benchmarks/few_shot.py [--steps 300] [--seeds 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

from _results import write_results  # benchmarks/_results.py

WEIGHTS = "pretrained:smallnet"
SHOTS = (1, 5, 10, 50)
SWEEP_LRS = (1e-4, 3e-4, 1e-3, 3e-3)
SCRATCH_LR, SCRATCH_STEPS = 3e-3, 3000  # the pretraining plan of smallnet (tools/pretrain.py)


def camera_b():  # -> CameraFamily
    """The unseen camera: matrix, gains and black level all outside the default family."""
    from isplab.data import CameraFamily
    from isplab.data.camera import BROOKS_MATRICES

    return CameraFamily(xyz_to_cam=BROOKS_MATRICES[1], red_gain=(1.2, 1.4), blue_gain=(2.6, 3.0),
                        black_level=(48.0, 48.0))


def make_camera_b(root: Path) -> Path:
    from isplab.data import synthesize_dataset

    return synthesize_dataset(root / "camera_b", n=50, val=16, test=32, seed=1, camera=camera_b())


def score(weights: str | Path, data: Path, split: str = "test") -> dict[str, float]:
    from isplab.data.splits import folder_eval_set
    from isplab.evaluate import evaluate
    from isplab.models.weights import load_model_from_checkpoint

    model, _ = load_model_from_checkpoint(weights)
    m = evaluate(model, folder_eval_set(data, split), batch_size=8)
    return {"psnr": m["psnr"], "ssim": m["ssim"], "delta_e": m["delta_e"]}


def adapt_run(data: Path, run: Path, shots: int, steps: int, lr: float, seed: int, init: str | None = WEIGHTS,
              split: str = "test") -> dict[str, float]:
    """Fine-tune (or, with ``init=None``, train from scratch) and score the last weights on ``split``."""
    from dataclasses import replace

    from isplab.train.adapt import adapt_config, run_adapt

    cfg = adapt_config(WEIGHTS, data, shots=shots, steps=steps, lr=lr, seed=seed)
    if init is None:
        cfg = replace(cfg, init=None)
    t0 = time.perf_counter()
    result = run_adapt(cfg, run, progress=False)
    return {**score(run / "checkpoints" / "last.pt", data, split), "train_s": result.metrics["train_s"],
            "wall_s": time.perf_counter() - t0}


def mean(runs: list[dict[str, float]]) -> dict[str, float]:
    out = {k: statistics.fmean(r[k] for r in runs) for k in ("psnr", "ssim", "delta_e")}
    if len(runs) > 1:
        out["psnr_sd"] = statistics.stdev(r["psnr"] for r in runs)
    return out


def main() -> None:
    import torch

    from isplab.classic import ClassicISP
    from isplab.data.splits import folder_eval_set
    from isplab.evaluate import evaluate
    from isplab.train.adapt import DEFAULT_LR

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="isplab-few-shot-") as tmp:
        root = Path(tmp)
        data = make_camera_b(root)
        sweep = {f"{lr:g}": adapt_run(data, root / f"sweep-{lr:g}", 10, args.steps, lr, 0, split="val")
                 for lr in SWEEP_LRS}
        print("lr sweep (val, 10 shots):", {k: round(v["psnr"], 2) for k, v in sweep.items()}, flush=True)
        lr = float(max(sweep, key=lambda k: sweep[k]["psnr"]))  # chosen on val, then used for every row
        rows: dict[str, dict] = {"0 (pretrained, as shipped)": {**score(WEIGHTS, data), "runs": []}}
        for shots in SHOTS:
            runs = [adapt_run(data, root / f"s{shots}-{seed}", shots, args.steps, lr, seed)
                    for seed in range(args.seeds)]
            rows[str(shots)] = {**mean(runs), "runs": runs}
            print(shots, round(rows[str(shots)]["psnr"], 2), flush=True)
        scratch = {
            f"scratch on 50, {args.steps} steps, lr {SCRATCH_LR:g}":
                adapt_run(data, root / "scratch-short", 50, args.steps, SCRATCH_LR, 0, init=None),
            f"scratch on 50, {SCRATCH_STEPS} steps, lr {SCRATCH_LR:g}":
                adapt_run(data, root / "scratch-long", 50, SCRATCH_STEPS, SCRATCH_LR, 0, init=None),
        }
        from isplab.data.synth import read_info
        from isplab.train.config import DataConfig
        from isplab.train.data import classic_for

        classic: ClassicISP = classic_for(DataConfig(path=str(data)))
        classic_m = evaluate(classic, folder_eval_set(data, "test"), batch_size=8)
        camera = read_info(data)["camera"]
    result = {
        "weights": WEIGHTS, "camera_b": camera, "steps": args.steps, "lr": lr, "isplab_adapt_default_lr": DEFAULT_LR,
        "seeds": args.seeds,
        "schedule": "cosine to lr/100, batch 8, 128x128 crops with flips, L1",
        "scored_on": "32 test pairs of camera B (photos never trained on), 256x256", "lr_sweep_val_10_shots": sweep,
        "shots": rows, "scratch": scratch,
        "classic_isp": {k: classic_m[k] for k in ("psnr", "ssim", "delta_e")}, "classic_isp_setup": classic.describe(),
        "threads": args.threads, "machine": platform.processor() or platform.machine(),
        "runtime_s": time.perf_counter() - t0,
    }
    sd = lambda r: f" ± {r['psnr_sd']:.2f}" if "psnr_sd" in r else ""  # noqa: E731
    md = [
        "# Few-shot adaptation to an unseen camera", "",
        f"`{WEIGHTS}` (trained on the default camera family) adapted with `isplab adapt` to synthetic camera B "
        "(Brooks matrix 2, red gain 1.2-1.4, blue gain 2.6-3.0, black level 48: all outside the pretraining "
        f"family). {args.steps} steps, Adam lr {lr:g} (best on val, below) cosine to 1%, batch 8 of 128x128 "
        "crops, L1; the "
        f"first N training pairs; mean of {args.seeds} seeds (± sd of PSNR), last weights. Scored on 32 test "
        f"pairs of camera B (unseen photos). {args.threads} threads, total {result['runtime_s'] / 60:.1f} min.", "",
        "| shots | PSNR, dB | SSIM | ΔE2000 |", "|---|---:|---:|---:|",
        *[f"| {k} | {r['psnr']:.2f}{sd(r)} | {r['ssim']:.4f} | {r['delta_e']:.2f} |" for k, r in rows.items()],
        *[f"| {k} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['delta_e']:.2f} |" for k, r in scratch.items()],
        f"| classical ISP (told B's colour matrix) | {classic_m['psnr']:.2f} | {classic_m['ssim']:.4f} | "
        f"{classic_m['delta_e']:.2f} |", "",
        f"Learning rate chosen on camera B's 16 **val** pairs (10 shots, {args.steps} steps, seed 0): "
        + ", ".join(f"lr {k}: {v['psnr']:.2f} dB" for k, v in sweep.items()) + ".",
    ]
    write_results("few_shot", result, md)


if __name__ == "__main__":
    main()
