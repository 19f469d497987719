"""Find a model's neutral numerically: the input channel ratios it renders grey.

The model is fed flat packed raw frames ``level * n`` (one per exposure level, brightest channel at
``level``) and ``n = (n_B, 1, n_R, 1)`` is solved for by damped Gauss-Newton on the output chroma,
``(log R/G, log B/G)`` of the mean of the output's central half, over all levels at once (least squares).
Jacobians come from autograd, so any differentiable model calibrates in a few iterations.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from isplab.camera.profile import Four, RawDomain
from isplab.errors import IsplabError
from isplab.models.ops import finest_output

#: Exposure levels of the flat frames (linear level of the brightest channel): mid-tones, no clipping.
DEFAULT_LEVELS = (0.05, 0.1, 0.2, 0.3, 0.45, 0.6)


@dataclass(frozen=True)
class Calibration:
    """The result: ``neutral`` (canonical order, greens 1) and how grey the model renders it per level.

    ``chroma`` is the remaining ``sqrt((log R/G)**2 + (log B/G)**2)`` per level (0 = exactly grey; 0.01 is
    about a 1% colour cast), ``None`` where the model renders the level black.
    """

    neutral: Four
    levels: tuple[float, ...]
    chroma: tuple[float | None, ...]
    iterations: int
    converged: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _model_input(signal: torch.Tensor, domain: RawDomain) -> torch.Tensor:
    """Torch twin of :func:`isplab.camera.adapt.to_model_input` (differentiable inside [0, 1])."""
    def col(values: Sequence[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=signal.dtype).view(1, 4, 1, 1)

    black, white, zero = col(domain.black), col(domain.white), col(domain.effective_black)
    return ((zero + signal * (white - zero) - black) / (white - black)).clamp(0.0, 1.0)


#: Output channel means below this count as black: their colour ratios are noise, the level is skipped.
MIN_OUTPUT = 0.01


def _mean_rgb(model: nn.Module, log_ratios: torch.Tensor, levels: torch.Tensor, domain: RawDomain,
              size: int) -> torch.Tensor:
    """``(L, 3)``: mean RGB of the output's central half for flat inputs ``level * n``, ``n = exp(u)``."""
    one = torch.ones(1, dtype=log_ratios.dtype)
    neutral = torch.cat([log_ratios[:1].exp(), one, log_ratios[1:].exp(), one])
    neutral = neutral / neutral.max()
    signal = (levels.view(-1, 1) * neutral.view(1, 4)).view(-1, 4, 1, 1).expand(-1, 4, size, size)
    rgb = finest_output(model(_model_input(signal, domain)))
    h, w = rgb.shape[-2:]
    return rgb[..., h // 4 : h - h // 4, w // 4 : w - w // 4].mean(dim=(2, 3))


def _log_chroma(rgb: torch.Tensor) -> torch.Tensor:
    """``(L, 3)`` -> ``(L, 2)``: ``log R/G``, ``log B/G``."""
    log_rgb = rgb.clamp_min(MIN_OUTPUT).log()
    return torch.stack([log_rgb[:, 0] - log_rgb[:, 1], log_rgb[:, 2] - log_rgb[:, 1]], dim=1)


def find_neutral(
    model: nn.Module,
    domain: RawDomain,
    size: int = 32,
    levels: Sequence[float] = DEFAULT_LEVELS,
    iterations: int = 50,
    tol: float = 1e-7,
) -> Calibration:
    """Solve for the input ratios ``model`` renders grey.

    Levels the model renders black (an output channel mean below :data:`MIN_OUTPUT`) are left out of the
    fit; their ``chroma`` is ``None``.

    Args:
        model: packed raw ``(N, 4, size, size)`` -> RGB; not modified (a float64 copy is fitted).
        domain: the model's raw domain (its levels and pedestal shape the flat inputs).
        size: packed side of the flat frames (must satisfy the model's input constraints).
        levels: linear exposure levels of the brightest channel, each in (0, 1].
        iterations: Gauss-Newton iterations at most.
        tol: stop once the largest log-ratio step is below this.
    """
    if not levels or any(not 0 < v <= 1 for v in levels):
        raise IsplabError(f"calibration levels must lie in (0, 1], got {tuple(levels)}")
    lv = torch.tensor(levels, dtype=torch.float64)
    model64 = copy.deepcopy(model).eval().double()  # float64: the fit's last digits survive rounding
    u = torch.zeros(2, dtype=torch.float64)

    def residual(v: torch.Tensor) -> torch.Tensor:
        return _log_chroma(_mean_rgb(model64, v, lv, domain, size)).flatten()

    done, converged = 0, False
    while done < iterations:
        done += 1
        with torch.no_grad():
            lit = _mean_rgb(model64, u, lv, domain, size).min(dim=1).values > MIN_OUTPUT
        if not lit.any():
            raise IsplabError(f"the model renders flat frames black at every level {tuple(levels)}; "
                              "pass brighter --levels")
        rows = lit.repeat_interleave(2)
        r = residual(u).detach()[rows]
        jac = torch.autograd.functional.jacobian(residual, u)[rows]
        jtj, jtr = jac.T @ jac, jac.T @ r
        if torch.linalg.matrix_rank(jtj) < 2:
            raise IsplabError("the model's output colour does not depend on the input channel ratios at "
                              f"levels {tuple(levels)}: its neutral is undefined there (try other --levels)")
        step = -torch.linalg.solve(jtj + 1e-9 * jtj.trace() * torch.eye(2, dtype=jtj.dtype), jtr)
        step = step.clamp(-1.0, 1.0)  # log-ratio steps of at most e: damped far from the solution
        u = u + step
        if step.abs().max() < tol:
            converged = True
            break
    with torch.no_grad():
        rgb = _mean_rgb(model64, u, lv, domain, size)
        chroma = _log_chroma(rgb).norm(dim=1)
    dark = rgb.min(dim=1).values <= MIN_OUTPUT
    b, r = float(u[0].exp()), float(u[1].exp())
    return Calibration(neutral=(b, 1.0, r, 1.0), levels=tuple(float(v) for v in levels),
                       chroma=tuple(None if d else float(c) for c, d in zip(chroma, dark, strict=True)),
                       iterations=done, converged=converged)


def calibrate_checkpoint(spec: str | Path, out: str | Path | None = None,
                         levels: Sequence[float] = DEFAULT_LEVELS) -> tuple[Path, Calibration]:
    """Find the neutral of a checkpoint's model and store it in its raw domain (``out``, default in place).

    Returns:
        ``(written path, calibration)``.
    """
    from isplab.models.registry import model_entry
    from isplab.models.weights import (
        PRETRAINED_PREFIX,
        load_model_from_checkpoint,
        raw_domain,
        resolve_weights,
        save_checkpoint,
    )

    if out is None and str(spec).startswith(PRETRAINED_PREFIX):
        raise IsplabError(f"{spec}: shipped weights are not rewritten in place; pass --out FILE.pt")
    model, state = load_model_from_checkpoint(spec)
    entry = model_entry(state["model_name"])
    m = entry.input_multiple
    size = -(-max(32, entry.min_input) // m) * m
    result = find_neutral(model, raw_domain(state, spec), size=size, levels=levels)
    if not np.all(np.isfinite(result.neutral)):
        raise IsplabError(f"{spec}: calibration did not converge (neutral {result.neutral})")
    state["raw_domain"] = raw_domain(state, spec).with_neutral(result.neutral).to_dict()
    state["calibration"] = result.to_dict()
    path = save_checkpoint(resolve_weights(spec) if out is None else out, state)
    return path, result
