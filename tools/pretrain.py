"""Train the pretrained weights that ship in ``isplab/weights/`` and regenerate their table in ``docs/``.

Reproducible: every model trains on the embedded data stream (training photos only, plus colour cards)
through :data:`CAMERA`, the spectral camera family (a random spectral sensor under a random light per sample,
mapped into white-balanced linear sRGB by the DNG pipeline ``isplab develop`` runs; shot/read noise), with the
plan below and seed 0; the run is a pure function of those, so the same commit gives the same weights on the
same machine type. Each file is a weight card (``MODEL.embedded.safetensors``, :mod:`isplab.models.cards`):
the tensors, and as metadata its raw domain, provenance (plan, config, data, steps, seed, commit) and scores
on the embedded val and test photos (never trained on) through the same family.

    python tools/pretrain.py                       # every model in PLANS (about 50 min on 2 idle CPU cores)
    python tools/pretrain.py --models microisp     # one model; others keep their files
    python tools/pretrain.py --table-only          # rewrite the docs table from the shipped files
    python tools/pretrain.py --manifest            # only rewrite isplab/weights/SHA256SUMS from the files

Every shipped file is checked against ``isplab/weights/SHA256SUMS`` when it is loaded; training a model
rewrites that manifest, and ``--manifest`` does so alone (after weights were replaced by other means).

Runs live in ``--work`` (default ``pretrain-runs/``) and resume if interrupted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from isplab.challenge.run import Budget, challenge_config  # noqa: E402
from isplab.losses import LossTerm  # noqa: E402
from isplab.train.config import QuickPlan  # noqa: E402

#: The camera family of the shipped weights (docs/camera.md "Cameras from physics"), and the share of colour
#: cards among the samples (exact flat colours).
CAMERA = {"kind": "spectral"}
CARDS = 0.3

#: One supervised stage per model, warm-up + cosine decay (as the challenge's quick plans; more steps).
#: Learning rates follow the quick plans: 2-5e-3 for these small nets from scratch. Every plan adds the
#: colour loss (weight 2): with the colour cards it halves the ColorChecker error of the default model
#: (benchmarks/colour_checker.py) for about 1 dB of PSNR.
L1 = [LossTerm("l1"), LossTerm("color", 2.0)]
L1_SSIM = [LossTerm("l1"), LossTerm("ssim", 0.5), LossTerm("color", 2.0)]
PLANS: dict[str, QuickPlan] = {
    "mialgo_3conv": QuickPlan(steps=3000, batch_size=16, patch=128, lr=3e-3, losses=L1),
    "smallnet": QuickPlan(steps=3000, batch_size=16, patch=128, lr=3e-3, losses=L1),
    "jmu_cvlab": QuickPlan(steps=1000, batch_size=8, patch=96, lr=3e-3, losses=L1),  # full-resolution convs
    "enerzai_t1": QuickPlan(steps=2000, batch_size=8, patch=128, lr=3e-3, losses=L1),
    "fgarepnet": QuickPlan(steps=2000, batch_size=8, patch=128, lr=3e-3, losses=L1),
    "rfdcsa": QuickPlan(steps=3000, batch_size=8, patch=128, lr=3e-3, warmup=100, losses=L1),
    "mincho_mobile_smallnet": QuickPlan(steps=2000, batch_size=8, patch=128, lr=3e-3, losses=L1),
    "microisp_0.5": QuickPlan(steps=2000, batch_size=8, patch=160, lr=5e-3, eps=1e-16, losses=L1_SSIM),
    "microisp": QuickPlan(steps=2000, batch_size=8, patch=160, lr=5e-3, eps=1e-16, losses=L1_SSIM),
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
    from isplab.models.cards import weight_card
    from isplab.models.weights import load_model_from_checkpoint, model_checkpoint, raw_domain, save_checkpoint
    from isplab.train.data import stream_camera
    from isplab.train.engine import train

    torch.set_num_threads(threads)
    cfg = challenge_config(name, BUDGET, None)
    cfg = replace(cfg, data=replace(cfg.data, stream=replace(cfg.data.stream, camera=CAMERA, cards=CARDS)))
    run = work / name
    last = run / "checkpoints" / "last.pt"
    start = time.perf_counter()
    train(cfg, run, resume=last.is_file())
    model, state = load_model_from_checkpoint(last)
    family = stream_camera(cfg.data)
    scores = {split: {k: round(float(v), 4) for k, v in evaluate(model, EvalSet.embedded(split, family)).items()}
              for split in ("val", "test")}
    photos = {split: [p.name for p in PHOTOS if p.split == split] for split in ("train", "val", "test")}
    ckpt = model_checkpoint(name, cfg.model_kwargs, model, raw_domain(state, last))
    ckpt["provenance"] = {
        "script": "tools/pretrain.py", "commit": commit(), "date": time.strftime("%Y-%m-%d"),
        "plan": asdict(PLANS[name]), "steps": cfg.total_steps, "seed": cfg.seed, "config": dump_yaml(cfg),
        "data": f"isplab embedded stream: train photos {', '.join(photos['train'])} and colour cards ({CARDS:.0%}); "
                "a random spectral camera and light per sample (SpectralFamily), through the DNG pipeline",
        "train_s": round(float(state.get("train_s", 0.0)), 1), "wall_s": round(time.perf_counter() - start, 1),
    }
    ckpt["config"] = asdict(cfg)  # what `isplab eval` scores it with: the same camera family
    ckpt["scores"] = {split: {**s, "photos": photos[split]} for split, s in scores.items()}
    path = save_checkpoint(ROOT / "isplab" / "weights" / weight_card(name).file, ckpt)
    write_manifest()  # shipped weights are verified against it on every load
    print(f"{name}: test PSNR {scores['test']['psnr']:.2f} dB, SSIM {scores['test']['ssim']:.4f}, "
          f"ΔE {scores['test']['delta_e']:.2f} -> {path} ({path.stat().st_size / 1024:.0f} KiB)", flush=True)
    return path


def write_manifest() -> None:
    """Rewrite ``isplab/weights/SHA256SUMS``: the checksums every load of a shipped file is verified against."""
    from isplab.integrity import write_manifest as write
    from isplab.models.cards import shipped_folder

    print(f"wrote {write(shipped_folder(), '*.safetensors')}", flush=True)


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
    from isplab.train.config import DataConfig, StreamConfig
    from isplab.train.data import classic_for, stream_camera

    data = DataConfig(stream=StreamConfig(camera=CAMERA))
    isp, family = classic_for(data), stream_camera(data)
    test, val = (evaluate(isp, EvalSet.embedded(split, family), batch_size=4) for split in ("test", "val"))
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
    ap.add_argument("--manifest", action="store_true", help="only rewrite isplab/weights/SHA256SUMS")
    args = ap.parse_args()
    if args.manifest:
        write_manifest()
        return
    if not args.table_only:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            if name not in PLANS:
                raise SystemExit(f"no pretraining plan for {name!r}; plans: {', '.join(PLANS)}")
            pretrain(name, args.work, args.threads)
    write_table()


if __name__ == "__main__":
    main()
