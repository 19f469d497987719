"""``isplab calibrate``: find a model's neutral (the input channel ratios it renders grey) and store it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from isplab.cli.args import finite_float

if TYPE_CHECKING:
    from isplab.camera.calibrate import Calibration


def _levels(text: str) -> tuple[float, ...]:
    return tuple(finite_float(v) for v in text.split(","))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="find a model's neutral and store it in its checkpoint",
                       description="Feed the model flat grey packed raw at several exposures, solve for the "
                                   "channel ratios it renders grey, and store them as the neutral of the "
                                   "checkpoint's raw domain (used by the camera adapter).")
    p.add_argument("--weights", required=True, help="checkpoint .pt (or pretrained:NAME with --out)")
    p.add_argument("--out", help="checkpoint to write (default: update --weights in place)")
    p.add_argument("--levels", type=_levels, default=None,
                   help="exposure levels of the flat frames, brightest channel (default 0.05,0.1,0.2,0.3,0.45,0.6)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from isplab.camera.calibrate import DEFAULT_LEVELS, calibrate_checkpoint
    from isplab.paths import check_apart

    check_apart({"--weights": args.weights}, {"--out": args.out})  # no --out: in place, as documented
    report(*calibrate_checkpoint(args.weights, args.out, args.levels or DEFAULT_LEVELS))
    return 0


def report(path: Path, result: Calibration) -> None:
    """Print a calibration's neutral, remaining chroma per level and convergence."""
    neutral = ", ".join(f"{v:.4f}" for v in result.neutral)
    chroma = ", ".join(f"{lv:g}: {'black' if c is None else f'{c:.2g}'}"
                       for lv, c in zip(result.levels, result.chroma, strict=True))
    print(f"neutral (B, Gr, R, Gb) = ({neutral}); remaining chroma per level {{{chroma}}} "
          f"after {result.iterations} iterations -> {path}")
    if not result.converged:
        print(f"warning: not converged after {result.iterations} iterations: the model's colour depends on "
              "exposure; the neutral is a least-squares compromise over the levels (see the chroma per level)")
