"""The camera adapter's synthetic proof: a model trained on camera family A, tested on camera B.

A = isplab's default :class:`~isplab.data.camera.CameraFamily` (``pretrained:smallnet`` was trained on it;
its calibrated neutral is stored in its raw domain). B = the unseen camera of ``benchmarks/few_shot.py``
(another colour matrix, white-balance gains outside A's, black level 48). Scored on B's 32 test pairs
(photos never trained on):

* **no adapter**: B's raw as the folder gives it (raw / 1020, pedestal and B's colours included);
* **adapter, grey-world**: :func:`isplab.camera.adapt.adapt_linear` with the frame domain B's black/white
  levels and a grey-world neutral estimate (what ``isplab develop`` does for a frame without metadata);
* **adapter, as-shot neutral**: the same with each pair's true as-shot neutral, which the synthetic folder
  records in ``camera.json`` (``1 / (red_gain, 1, blue_gain)``: B's white balance for that shot);
* **adapter, as-shot + colour matrices**: also the 3x3 camera-to-camera matrix from B's and A's XYZ ->
  camera raw matrices (DNG ``ColorMatrix`` convention: for B each shot's row-normalised matrix before its
  white balance; A's the default family's, which the pretrained model's raw domain does not record, given
  here); also with Brooks's ``xyz_to_cam`` as ``camera.json`` records it, to show the convention matters;
* **fine-tuned on B** (upper reference): ``isplab adapt`` with 50 shots, the default schedule.

Writes ``benchmarks/results/camera_transfer.{json,md}``.

    python benchmarks/camera_transfer.py
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from _results import RESULTS, write_results  # benchmarks/_results.py
from few_shot import WEIGHTS, adapt_run, make_camera_b, score


def _xyz_to_raw(srgb_to_cam, red_gain: float = 1.0, blue_gain: float = 1.0):
    """The XYZ -> camera raw matrix the synthetic data really follows (what a DNG ``ColorMatrix`` states):
    the row-normalised camera matrix of the shot, before its white-balance gains."""
    import numpy as np

    from isplab.colour import SRGB_TO_XYZ

    wb = np.diag([1 / red_gain, 1.0, 1 / blue_gain])
    return (wb @ np.asarray(srgb_to_cam) @ np.linalg.inv(SRGB_TO_XYZ)).tolist()


def adapted_set(data: Path, model_domain, neutral: str, matrices: str | None):  # -> EvalSet
    """B's test pairs mapped into the model's raw domain by the camera adapter. ``matrices``: None, ``"raw"``
    (each shot's true XYZ -> raw matrix and A's) or ``"recorded"`` (the Brooks ``xyz_to_cam`` matrices as
    ``camera.json`` records them: before row normalisation and white balance, i.e. the wrong convention)."""
    import numpy as np
    import torch

    from isplab.camera.adapt import adapt_linear, linearize, to_model_input
    from isplab.camera.profile import RawDomain, neutral_from_rgb
    from isplab.data import CameraFamily
    from isplab.data.datasets import PairedRawDataset
    from isplab.data.splits import EvalSet
    from isplab.data.synth import read_info

    info = read_info(data)
    b = CameraFamily.from_dict(info["camera"], "camera.json")
    shots = {p["index"]: p["camera"] for p in info["pairs"] if p["split"] == "test"}
    pairs = PairedRawDataset(data, split="test")
    target = model_domain
    a = CameraFamily()  # family A: pretrained smallnet's (tools/pretrain.py)
    if matrices:
        a_matrix = a.xyz_to_cam if matrices == "recorded" else _xyz_to_raw(a.nominal_srgb_to_cam)
        target = RawDomain.from_dict({**model_domain.to_dict(), "colour_matrix": a_matrix})

    def batches(batch_size: int):
        raws, targets = [], []
        for i in range(len(pairs)):
            raw, rgb = pairs[i]
            shot = shots[int(pairs.files(i)[0].stem)]
            matrix = {None: None, "recorded": b.xyz_to_cam,
                      "raw": _xyz_to_raw(shot["srgb_to_cam"], shot["red_gain"], shot["blue_gain"])}[matrices]
            source = RawDomain(black=float(shot["black_level"]), white=float(b.white_level),
                               neutral=neutral_from_rgb((1 / shot["red_gain"], 1.0, 1 / shot["blue_gain"])),
                               colour_matrix=matrix, camera="synthetic camera B")
            codes = raw.numpy().astype(np.float32) * pairs.white_level
            signal, _ = adapt_linear(linearize(codes, source), source, target, neutral=neutral)
            raws.append(torch.from_numpy(to_model_input(signal, target)))
            targets.append(rgb)
            if len(raws) == batch_size or i == len(pairs) - 1:
                yield torch.stack(raws), torch.stack(targets)
                raws, targets = [], []

    what = f"{neutral} neutral" + (f", camera-to-camera matrix ({matrices})" if matrices else "")
    return EvalSet("test", f"{data}/test via the camera adapter ({what})", len(pairs), batches)


def main() -> None:
    import torch

    from isplab.evaluate import evaluate
    from isplab.models.weights import load_model_from_checkpoint, raw_domain
    from isplab.train.adapt import DEFAULT_LR, DEFAULT_STEPS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    few_shot = RESULTS / "few_shot.json"  # the learning rate few_shot.py chose on val, else isplab adapt's default
    lr = json.loads(few_shot.read_text())["lr"] if few_shot.is_file() else DEFAULT_LR
    t0 = time.perf_counter()
    model, state = load_model_from_checkpoint(WEIGHTS)
    domain = raw_domain(state, WEIGHTS)
    with tempfile.TemporaryDirectory(prefix="isplab-camera-transfer-") as tmp:
        data = make_camera_b(Path(tmp))
        rows = {"no adapter (raw / 1020)": score(WEIGHTS, data)}
        for label, neutral, matrices in (
                ("adapter: B's levels, grey-world neutral", "grey-world", None),
                ("adapter: B's levels, as-shot neutral", "as-shot", None),
                ("adapter: as-shot neutral + colour matrices (XYZ -> raw, as a DNG states them)", "as-shot", "raw"),
                ("adapter: as-shot neutral + Brooks xyz_to_cam as camera.json records it (wrong convention)",
                 "as-shot", "recorded"),
                ("adapter: grey-world neutral + colour matrices (XYZ -> raw)", "grey-world", "raw")):
            m = evaluate(model, adapted_set(data, domain, neutral, matrices), batch_size=8)
            rows[label] = {k: m[k] for k in ("psnr", "ssim", "delta_e")}
        rows[f"fine-tuned on B: isplab adapt, 50 shots, {args.steps} steps, lr {lr:g}"] = adapt_run(
            data, Path(tmp) / "adapt50", 50, args.steps, lr, 0)
    result = {"weights": WEIGHTS, "model_neutral": domain.neutral, "rows": rows,
              "scored_on": "32 test pairs of synthetic camera B (few_shot.camera_b), 256x256",
              "threads": args.threads, "machine": platform.processor() or platform.machine(),
              "runtime_s": time.perf_counter() - t0}
    md = [
        "# Camera transfer: trained on family A, tested on camera B", "",
        f"`{WEIGHTS}` (trained on isplab's default camera family A; calibrated neutral "
        f"{', '.join(f'{v:.3f}' for v in domain.neutral)} in B, Gr, R, Gb order) on synthetic camera B (Brooks "
        "matrix 2, red gain 1.2-1.4, blue gain 2.6-3.0, black level 48). Scored on B's 32 test pairs "
        f"(unseen photos). Total {result['runtime_s'] / 60:.1f} min.", "",
        "| | PSNR, dB | SSIM | ΔE2000 |", "|---|---:|---:|---:|",
        *[f"| {k} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['delta_e']:.2f} |" for k, r in rows.items()], "",
        "As-shot neutral: each pair's true white balance, from the synthetic folder's `camera.json`. Colour "
        "matrices: each shot's XYZ -> raw matrix of B (its row-normalised camera matrix before white balance, "
        "from `camera.json`) and A's (the default family's; not stored in the model's raw domain, given here). "
        "The adapter's `M = CM_model @ inv(CM_frame)` needs matrices in that DNG convention: Brooks et al.'s "
        "`xyz_to_cam` as recorded (before row normalisation) maps the wrong colours (row 'wrong convention').",
    ]
    write_results("camera_transfer", result, md)


if __name__ == "__main__":
    main()
