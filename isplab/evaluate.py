"""Scoring a model the way the challenge did (PSNR, SSIM per image, averaged) plus CIEDE2000 colour error.

>>> from isplab.classic import ClassicISP
>>> from isplab.data.splits import EvalSet
>>> metrics = evaluate(ClassicISP(), EvalSet.embedded("val", cameras=1))
>>> sorted(metrics)
['count', 'delta_e', 'psnr', 'ssim']
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from isplab.camera.profile import RawDomain
from isplab.config import from_dict
from isplab.data.splits import EvalSet
from isplab.errors import IsplabError
from isplab.metrics import MetricAccumulator
from isplab.models.ops import finest_output

#: What every score in isplab reports.
METRICS = ("psnr", "ssim", "delta_e")


class NonFiniteOutput(IsplabError):
    """The model computed NaN or infinity (its weights or the input are broken)."""


@torch.no_grad()
def evaluate(
    model: nn.Module | Callable[[torch.Tensor], torch.Tensor],
    images: EvalSet,
    batch_size: int = 8,
    progress: bool = False,
    metrics: Sequence[str] = METRICS,
    channels_last: bool = False,
    device: torch.device | str | None = None,
) -> dict[str, float]:
    """Mean per-image metrics of ``model(raw)`` clipped to [0, 1] against the targets.

    ``device``: where ``model`` computes (its inputs are moved there, its outputs back to the CPU, where the
    metrics are computed); None: the CPU.
    Returns ``{"psnr": dB, "ssim": ..., "delta_e": ..., "count": images}``.
    """
    if isinstance(model, nn.Module):
        model.eval()
    acc = MetricAccumulator(metrics)
    bar = tqdm(images.batches(batch_size), desc="eval", unit="batch",
               disable=None if progress else True)  # None: a bar on a terminal only, none in logs
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    for raw, target in bar:
        raw = raw.to(device or "cpu", memory_format=memory_format)
        out = finest_output(model(raw)).float().cpu()
        if not torch.isfinite(out).all():  # inf would pass the clamp below and score as a white picture
            raise NonFiniteOutput(f"the model's output is not finite (NaN/inf) on {images.description}: its "
                                  "weights or the input are broken; retrain with a lower LR")
        acc.update(out.clamp(0, 1).contiguous(), target)
    if acc.count == 0:
        raise ValueError(f"cannot evaluate on an empty set ({images.description})")
    scores = acc.compute()
    bad = [name for name in metrics if math.isnan(scores[name])]
    if bad:
        raise IsplabError(f"the model's output is not finite on {images.description} ({', '.join(bad)} = "
                          f"{scores[bad[0]]}): its weights or the input are broken; retrain with a lower LR")
    return scores


def adapted(images: EvalSet, source: RawDomain, target: RawDomain) -> EvalSet:
    """``images`` with every raw mapped from ``source`` into ``target`` by the camera adapter (as-shot neutral:
    ``source``'s), as ``isplab develop`` maps a frame."""
    from isplab.camera.adapt import adapt_linear, linearize, to_model_input

    def mapped(raw: torch.Tensor) -> torch.Tensor:
        codes = raw.numpy() * np.reshape(source.white, (4, 1, 1))
        out = [to_model_input(adapt_linear(linearize(c, source), source, target, exposure="auto")[0], target)
               for c in codes]
        return torch.from_numpy(np.stack(out))

    return images.map_raw(mapped, f"mapped from {source.camera or 'the camera profile'} by the camera adapter")


@dataclass
class EvalReport:
    """What ``isplab eval`` measured: one row per ISP (the checkpoint's model and the classical ISP)."""

    weights: str
    scored_on: str
    split: str
    rows: dict[str, dict[str, float]]
    classic: str
    trained: str = "paired"

    def render(self) -> str:
        lines = [f"scored on {self.scored_on}", f"trained: {self.trained}",
                 f"{'model':<22} {'PSNR':>8} {'SSIM':>7} {'ΔE2000':>7}"]
        lines += [f"{name:<22} {m['psnr']:>8.3f} {m['ssim']:>7.4f} {m['delta_e']:>7.2f}"
                  for name, m in self.rows.items()]
        lines.append(f"classic_isp: {self.classic}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "scored_on": self.scored_on, "split": self.split, "results": self.rows,
                "classic_isp": self.classic, "trained": self.trained}


def evaluate_checkpoint(weights: str | Path, data: str | Path | None = None, split: str = "val",
                        batch_size: int = 8, val_fraction: float = 0.1, json_path: str | Path | None = None,
                        device: str = "auto", camera: str | Path | None = None) -> EvalReport:
    """Score a checkpoint and the classical ISP on the ``split`` images of ``data`` (or the embedded photos,
    rendered by the camera family the checkpoint was trained with); optionally write the report as JSON.

    A folder's raws are read at the levels of the checkpoint's raw domain (its white level: the one the run
    trained with); with ``camera`` (a profile of the folder's camera) they are first mapped into the
    checkpoint's colour space by the camera adapter.

    ``device`` (``auto``, ``cpu`` or ``cuda``, :func:`isplab.train.device.resolve_device`) runs the checkpoint's
    model; the classical ISP and the metrics stay on the CPU."""
    from isplab.atomic import check_writable, remove_stale_temps, write_text_atomic
    from isplab.data.splits import folder_eval_set
    from isplab.models.weights import load_model_from_checkpoint, raw_domain
    from isplab.train.config import DataConfig, training_mode
    from isplab.train.data import classic_for, folder_domain, stream_camera
    from isplab.train.device import resolve_device

    target_device = resolve_device(device, option="--device")
    if json_path is not None:
        remove_stale_temps(check_writable(json_path, "results JSON (--json)").parent)
    model, state = load_model_from_checkpoint(weights)
    domain = raw_domain(state, weights)
    trained = state.get("config", {}).get("data", {})
    kept = {k: trained[k] for k in ("stream",) if k in trained}
    data_cfg = from_dict(DataConfig, kept, f"{weights}: config.data")
    data_cfg.path, data_cfg.white_level = None if data is None else str(data), float(np.mean(domain.white))
    if camera is not None and data is None:
        raise IsplabError("--camera describes the raws of --data: the embedded photos need none")
    if data is None:
        if split == "all":
            raise IsplabError("--split all needs --data: the embedded data has no fixed pairs beyond val and test")
        images = EvalSet.embedded(split, stream_camera(data_cfg), data_cfg.stream.eval_cameras)
    else:
        images = folder_eval_set(data, split, val_fraction, data_cfg.white_level)
        if camera is not None:
            images = adapted(images, folder_domain(camera, data_cfg.white_level), domain)
    classic = classic_for(data_cfg)
    try:
        scores = evaluate(model.to(target_device), images, batch_size, progress=True, device=target_device)
    except NonFiniteOutput as exc:
        raise IsplabError(f"{weights}: {exc}") from None
    rows = {state["model_name"]: scores, "classic_isp": evaluate(classic, images, batch_size)}
    report = EvalReport(str(weights), images.description, images.split, rows, classic.describe(),
                        training_mode(state.get("config") or {}))
    if json_path is not None:
        write_text_atomic(Path(json_path), json.dumps(report.to_dict(), indent=2) + "\n")
    return report
