"""Train the pretrained weights that ship in ``isplab/weights/`` and regenerate their table in ``docs/``.

Reproducible: every model trains on the embedded data stream (training photos only, a random camera of the
default :class:`~isplab.data.camera.CameraFamily` per sample: colour matrix, white-balance gains, exposure,
black level, shot/read noise), with the plan below and seed 0; the run is a pure function of those, so the
same commit gives the same weights on the same machine type. Each weight file carries its provenance (plan,
config, data, steps, seed, commit) and its scores on the embedded val and test photos (never trained on).

    python tools/pretrain.py                       # every model in PLANS (about 25 min on 2 CPU cores)
    python tools/pretrain.py --models microisp     # one model; others keep their files
    python tools/pretrain.py --calibrate-only      # re-measure the shipped files' neutrals (calibrate)
    python tools/pretrain.py --table-only          # rewrite the docs table from the shipped files

Runs live in ``--work`` (default ``pretrain-runs/``) and resume if interrupted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isplab.challenge.run import Budget, Plan, challenge_config  # noqa: E402

#: One supervised stage per model, warm-up + cosine decay (as the challenge's quick plans; more steps).
#: Learning rates follow the quick plans: 2-5e-3 for these small nets from scratch.
PLANS: dict[str, Plan] = {
    "mialgo_3conv": Plan(steps=3000, batch_size=16, patch=128, lr=3e-3),
    "smallnet": Plan(steps=3000, batch_size=16, patch=128, lr=3e-3),
    "jmu_cvlab": Plan(steps=1000, batch_size=8, patch=96, lr=3e-3),  # full-resolution convs: ~0.2 s/step
    "enerzai_t1": Plan(steps=2000, batch_size=8, patch=128, lr=3e-3),
    "fgarepnet": Plan(steps=2000, batch_size=8, patch=128, lr=3e-3),
    "rfdcsa": Plan(steps=1500, batch_size=8, patch=128, lr=3e-3),
    "mincho_mobile_smallnet": Plan(steps=2000, batch_size=8, patch=128, lr=3e-3),
    "microisp_0.5": Plan(steps=2000, batch_size=8, patch=160, lr=5e-3, eps=1e-16, losses=(("l1", 1.0), ("ssim", 0.5))),
    "microisp": Plan(steps=2000, batch_size=8, patch=160, lr=5e-3, eps=1e-16, losses=(("l1", 1.0), ("ssim", 0.5))),
}
BUDGET = Budget("pretrain", input_size=(544, 960), bench_runs=0, bench_warmup=0, plans=PLANS)
DOC = ROOT / "docs" / "pretrained.md"
BEGIN, END = "<!-- pretrained-table:begin -->", "<!-- pretrained-table:end -->"


def commit() -> str:
    """HEAD's hash, with ``+dirty`` when the tree has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown"
    return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def pretrain(name: str, work: Path, threads: int) -> Path:
    """Train ``name`` (resuming), score it, and write ``isplab/weights/<name>.pt``."""
    import torch

    from isplab.config import dump_yaml
    from isplab.data.photos import PHOTOS
    from isplab.data.splits import EvalSet
    from isplab.evaluate import evaluate
    from isplab.integrity import write_manifest
    from isplab.models.weights import load_model_from_checkpoint, model_checkpoint, save_checkpoint
    from isplab.train.engine import train

    torch.set_num_threads(threads)
    cfg = challenge_config(name, BUDGET, None)
    run = work / name
    last = run / "checkpoints" / "last.pt"
    start = time.perf_counter()
    train(cfg, run, resume=last.is_file())
    model, state = load_model_from_checkpoint(last)
    scores = {split: {k: round(float(v), 4) for k, v in evaluate(model, EvalSet.embedded(split)).items()}
              for split in ("val", "test")}
    photos = {split: [p.name for p in PHOTOS if p.split == split] for split in ("train", "val", "test")}
    ckpt = model_checkpoint(name, cfg.model_kwargs, model)
    ckpt["provenance"] = {
        "script": "tools/pretrain.py", "commit": commit(), "date": time.strftime("%Y-%m-%d"),
        "plan": asdict(PLANS[name]), "steps": cfg.total_steps, "seed": cfg.seed, "config": dump_yaml(cfg),
        "data": f"isplab embedded stream: train photos {', '.join(photos['train'])}; random camera per sample "
                "(default CameraFamily)",
        "train_s": round(float(state.get("train_s", 0.0)), 1), "wall_s": round(time.perf_counter() - start, 1),
    }
    ckpt["scores"] = {split: {**s, "photos": photos[split]} for split, s in scores.items()}
    path = save_checkpoint(ROOT / "isplab" / "weights" / f"{name}.pt", ckpt)
    write_manifest(path.parent, "*.pt")  # shipped weights are verified against it on every load
    calibrate(path)
    write_manifest(path.parent, "*.pt")
    print(f"{name}: test PSNR {scores['test']['psnr']:.2f} dB, SSIM {scores['test']['ssim']:.4f}, "
          f"ΔE {scores['test']['delta_e']:.2f} -> {path} ({path.stat().st_size / 1024:.0f} KiB)", flush=True)
    return path


def calibrate(path: Path) -> None:
    """Store the model's neutral (the channel ratios it renders grey) in the file's raw domain, so the camera
    adapter can white-balance another camera's frames into it (docs/camera.md)."""
    from isplab.camera.calibrate import calibrate_checkpoint

    _, result = calibrate_checkpoint(path)
    print(f"{path.stem}: neutral {tuple(round(v, 3) for v in result.neutral)}", flush=True)


def table() -> str:
    """The markdown table of every shipped weight file (from the files themselves)."""
    from isplab.models import count_parameters, list_models
    from isplab.models.weights import load_model_from_checkpoint, pretrained_path

    rows = ["| model | params | file KiB | steps | test PSNR dB | test SSIM | test ΔE | val PSNR dB "
            "| neutral (B, G, R, G) | commit |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name in list_models(pretrained=True):
        model, state = load_model_from_checkpoint(f"pretrained:{name}")
        test, val, prov = state["scores"]["test"], state["scores"]["val"], state["provenance"]
        rows.append(f"| `{name}` | {count_parameters(model):,} | {pretrained_path(name).stat().st_size / 1024:.0f} "
                    f"| {prov['steps']} | {test['psnr']:.2f} | {test['ssim']:.4f} | {test['delta_e']:.2f} "
                    f"| {val['psnr']:.2f} | {_neutral(state)} | `{prov['commit'][:10]}` |")
    return "\n".join(rows + ["", classic_reference()])


def _neutral(state: dict) -> str:
    neutral = state["raw_domain"].get("neutral")
    return "—" if neutral is None else ", ".join(f"{v:.3f}" for v in neutral)


def classic_reference() -> str:
    """The classical ISP on the same photos and cameras, for scale."""
    from isplab.data.splits import EvalSet
    from isplab.evaluate import evaluate
    from isplab.train.config import DataConfig
    from isplab.train.data import classic_for

    isp = classic_for(DataConfig())
    test, val = (evaluate(isp, EvalSet.embedded(split), batch_size=4) for split in ("test", "val"))
    return (f"For scale, the classical ISP ({isp.describe()}) on the same images: test PSNR {test['psnr']:.2f} dB, "
            f"SSIM {test['ssim']:.4f}, ΔE {test['delta_e']:.2f}; val PSNR {val['psnr']:.2f} dB.")


def write_table() -> None:
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC}: add the markers {BEGIN} / {END} where the table goes")
    head, rest = text.split(BEGIN, 1)
    DOC.write_text(f"{head}{BEGIN}\n{table()}\n{END}{rest.split(END, 1)[1]}")
    print(f"wrote the table into {DOC}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(PLANS), help="comma-separated models (default: all in PLANS)")
    ap.add_argument("--work", type=Path, default=ROOT / "pretrain-runs", help="training runs (resumable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--table-only", action="store_true")
    ap.add_argument("--calibrate-only", action="store_true", help="re-calibrate the shipped files' neutrals")
    args = ap.parse_args()
    if args.calibrate_only:
        from isplab.models.weights import pretrained_path

        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            calibrate(pretrained_path(name))
    elif not args.table_only:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            if name not in PLANS:
                raise SystemExit(f"no pretraining plan for {name!r}; plans: {', '.join(PLANS)}")
            pretrain(name, args.work, args.threads)
    write_table()


if __name__ == "__main__":
    main()
