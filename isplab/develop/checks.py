"""Checks on what a model developed, before it is written: a broken model must not produce a "photo".

A developed picture is refused (one :class:`~isplab.errors.IsplabError` naming the raw file and the
model, nothing written) when it holds NaN or infinity, when any value is beyond :data:`LIMIT` (an
overflowing model, e.g. a bit-flipped ``.tflite``, whose output clipping would turn into a white or black
"photo"), or when it is one flat colour although the frame is not (a dead model). Values outside [0, 1]
by less are a model's ordinary overshoot (an untrained one's too) and are clipped when the file is encoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from isplab.errors import IsplabError

#: Largest magnitude of a developed value that is still a (clipped) picture: 100 times its range [0, 1].
LIMIT = 100.0
#: Spread below which a developed picture counts as one flat colour.
FLAT = 1e-5


class OutputCheck:
    """Accumulates a developed picture band by band (:meth:`band`), then :meth:`finish` decides."""

    def __init__(self, source: str | Path, model: str, frame: np.ndarray):
        self.source, self.model = source, model
        self.flat_input = bool(np.ptp(frame) <= FLAT) if frame.size else True
        self.lo, self.hi = np.inf, -np.inf

    def _refuse(self, problem: str, fix: str) -> None:
        raise IsplabError(f"{self.source}: {self.model} produced {problem}; nothing was written. {fix}")

    def band(self, rows: np.ndarray) -> None:
        """Check one band of output values (any layout); raises at the first non-finite value."""
        if rows.size == 0:
            return
        lo, hi = float(rows.min()), float(rows.max())
        if not (np.isfinite(lo) and np.isfinite(hi)):
            self._refuse("NaN/inf values", "The model file is damaged or its weights diverged: re-export or "
                                           "retrain it, or use another --weights")
        if max(-lo, hi) > LIMIT:
            self._refuse(f"values from {lo:.3g} to {hi:.3g}, beyond the picture range [0, 1] a hundredfold",
                         "The model file is damaged or does not fit this input: re-export it, or use another "
                         "--weights")
        self.lo, self.hi = min(self.lo, lo), max(self.hi, hi)

    def finish(self) -> None:
        """Refuse a picture of one flat colour developed from a frame that is not flat."""
        if not self.flat_input and self.hi - self.lo <= FLAT:
            self._refuse(f"a picture of one flat value ({self.lo:.3g}) from a frame that is not flat",
                         "The model is untrained or broken: use trained weights (e.g. pretrained:NAME)")


def check_picture(rgb: np.ndarray, source: str | Path, model: str, frame: np.ndarray) -> np.ndarray:
    """:class:`OutputCheck` on a whole developed picture; returns it unchanged."""
    check = OutputCheck(source, model, frame)
    check.band(rgb)
    check.finish()
    return rgb
