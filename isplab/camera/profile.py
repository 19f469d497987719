"""Raw domains: how a camera's raw values, or a model's packed input, relate to scene light.

A :class:`RawDomain` describes one raw space: per packed channel (canonical order ``(B, G_r, R, G_b)``,
see :mod:`isplab.raw.bayer`) the black and white level, the *neutral* (the channel ratios of a grey
surface), and optionally the camera's colour matrix. A camera frame has one (its black/white levels,
as-shot neutral, colour matrix); so does a model (the domain it was trained in). Every isplab checkpoint
stores its model's domain (:mod:`isplab.models.weights`), and :mod:`isplab.camera.adapt` maps a frame
from its own domain into a model's.

A model's packed input relates to raw values by ``x = (raw - black) / (white - black)``. Where the data
a model was trained on kept the sensor's black pedestal in the input (the MAI data divided by 1020 without
subtracting black), ``sensor_black`` records the pedestal so an adapted frame can carry it too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from isplab.errors import IsplabError
from isplab.raw.bayer import MAI_WHITE_LEVEL
from isplab.runtime.tflite_metadata import RAW_DOMAIN, read_metadata

#: The canonical packed channel order of every isplab model (:mod:`isplab.raw.bayer`).
CANONICAL_ORDER: tuple[str, ...] = ("B", "Gr", "R", "Gb")

#: Black levels of the Fujifilm UltraISP raws (Sony IMX586, MAI 2022) per canonical channel, 10-bit
#: units, as measured by Arhire & Timofte (CVPRW 2025, ``run_inference.py``); saturation is 1023.
ULTRAISP_BLACK: tuple[float, ...] = (62.0, 60.0, 58.0, 61.0)

Four = tuple[float, float, float, float]


def _four(value: float | Sequence[float], what: str) -> Four:
    """A scalar or 4 values per canonical channel (a 3-value ``(R, G, B)`` neutral repeats G)."""
    arr = np.asarray(value, dtype=np.float64).ravel()
    if arr.size == 1:
        arr = np.repeat(arr, 4)
    if arr.size != 4 or not np.all(np.isfinite(arr)):
        raise IsplabError(f"{what} needs 1 or 4 finite values (canonical B, Gr, R, Gb), got {value!r}")
    return tuple(float(v) for v in arr)  # type: ignore[return-value]


def neutral_from_rgb(rgb: Sequence[float]) -> Four:
    """An ``(R, G, B)`` neutral (e.g. a DNG AsShotNeutral) as 4 canonical values ``(B, G, R, G)``."""
    r, g, b = (float(v) for v in rgb)
    return normalise_neutral((b, g, r, g))


def normalise_neutral(neutral: Sequence[float]) -> Four:
    """Scale a 4-channel neutral so the mean of its two greens is 1."""
    n = np.asarray(_four(neutral, "neutral"))
    green = (n[1] + n[3]) / 2
    if np.any(n <= 0) or green <= 0:
        raise IsplabError(f"a neutral must be positive in every channel, got {tuple(neutral)}")
    return tuple(float(v) for v in n / green)  # type: ignore[return-value]


@dataclass(frozen=True)
class RawDomain:
    """One raw space (a camera's, or the one a model was trained in).

    Attributes:
        black: black level per canonical channel, in raw units (what the input normalisation subtracts).
        white: white level per canonical channel, in raw units (what maps to 1).
        sensor_black: the sensor's true black where it differs from ``black`` (a pedestal left in the
            input, e.g. :data:`ULTRAISP_BLACK` for models trained on MAI data normalised by 1020);
            ``None``: same as ``black``.
        order: colour of each packed input channel; isplab models use :data:`CANONICAL_ORDER`.
        neutral: black-free channel ratios of a grey surface (greens averaging 1): a frame's as-shot
            neutral, or for a model the input ratios it renders grey (``isplab calibrate``). ``None``:
            unknown.
        colour_matrix: 3x3 XYZ -> camera ``(R, G, B)`` matrix (DNG ``ColorMatrix`` convention), or ``None``.
        camera: free text: which sensor / data set this is.
    """

    black: Four = (0.0, 0.0, 0.0, 0.0)
    white: Four = (float(MAI_WHITE_LEVEL),) * 4  # type: ignore[assignment]
    sensor_black: Four | None = None
    order: tuple[str, ...] = CANONICAL_ORDER
    neutral: Four | None = None
    colour_matrix: tuple[tuple[float, float, float], ...] | None = None
    camera: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalise the field types once, here
        set_(self, "black", _four(self.black, "black"))
        set_(self, "white", _four(self.white, "white"))
        if self.sensor_black is not None:
            set_(self, "sensor_black", _four(self.sensor_black, "sensor_black"))
        if any(w <= b for w, b in zip(self.white, self.effective_black, strict=True)):
            raise IsplabError(f"white level {self.white} must exceed black level {self.effective_black}")
        if sorted(self.order) != sorted(CANONICAL_ORDER):
            raise IsplabError(f"order {self.order} must be a permutation of {CANONICAL_ORDER}")
        set_(self, "order", tuple(self.order))
        if self.neutral is not None:
            set_(self, "neutral", normalise_neutral(self.neutral))
        if self.colour_matrix is not None:
            m = np.asarray(self.colour_matrix, dtype=np.float64)
            if m.shape != (3, 3) or not np.all(np.isfinite(m)) or abs(np.linalg.det(m)) < 1e-12:
                raise IsplabError(f"colour_matrix must be an invertible 3x3 matrix, got {self.colour_matrix!r}")
            set_(self, "colour_matrix", tuple(tuple(float(v) for v in row) for row in m))

    @property
    def effective_black(self) -> Four:
        """The level of zero light: ``sensor_black`` where given, else ``black``."""
        return self.black if self.sensor_black is None else self.sensor_black

    def with_neutral(self, neutral: Sequence[float] | None) -> RawDomain:
        return replace(self, neutral=None if neutral is None else normalise_neutral(neutral))

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and numbers (stored in checkpoints and output metadata; no class pickled)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "raw domain") -> RawDomain:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise IsplabError(f"{source}: unknown raw-domain key(s) {', '.join(unknown)}; "
                              f"known: {', '.join(sorted(known))}")
        values = dict(data)
        if values.get("colour_matrix") is not None:
            values["colour_matrix"] = tuple(tuple(row) for row in values["colour_matrix"])
        for key in ("black", "white", "sensor_black", "order", "neutral"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)


def stored_domain(model: str | Path | bytes) -> RawDomain | None:
    """The raw domain ``isplab export`` stored in a ``.tflite`` (path or bytes), checked like a checkpoint's;
    ``None`` for files without one (official releases, exports of a freshly initialised model)."""
    source = str(model) if isinstance(model, str | Path) else "<model bytes>"
    entry = read_metadata(model).get(RAW_DOMAIN)
    if entry is None:
        return None
    try:
        return RawDomain.from_dict(json.loads(entry), source)
    except (IsplabError, TypeError, ValueError) as exc:  # bad JSON, unknown keys, wrong types or lengths
        raise IsplabError(f"{source}: its stored raw domain is unusable ({exc}). Re-export the file with this "
                          "isplab (`isplab export`), or develop with --no-adapt") from None


#: Models trained by isplab on its own data (synthetic or MAI/Zurich PNGs divided by 1020): black 0,
#: white 1020, neutral unknown until ``isplab calibrate``.
ISPLAB_DOMAIN = RawDomain(camera="isplab training data (raw / 1020)")

#: Models trained on the Fujifilm UltraISP raws normalised MAI-style (raw / 1020, pedestal kept).
ULTRAISP_MAI_DOMAIN = RawDomain(sensor_black=ULTRAISP_BLACK,
                                camera="Sony IMX586 (Fujifilm UltraISP), raw / 1020 with its black pedestal")
