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
from typing import TYPE_CHECKING, Any

import numpy as np

from isplab.colorimetry import BROOKS_MATRICES, XYZ_TO_SRGB, camera_colour_space
from isplab.errors import IsplabError
from isplab.raw.bayer import CANONICAL_ORDER, MAI_WHITE_LEVEL
from isplab.raw.dng import balanced_to_xyz
from isplab.raw.readers import cam_to_srgb

if TYPE_CHECKING:
    from isplab.raw.readers import RawImage
from isplab.runtime.tflite_metadata import RAW_DOMAIN, read_metadata

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


def rgb_of(neutral: Sequence[float]) -> np.ndarray:
    """A 4-channel canonical neutral ``(B, Gr, R, Gb)`` as ``(R, G, B)`` (the greens' mean)."""
    b, gr, r, gb = _four(neutral, "neutral")
    return np.array([r, (gr + gb) / 2, b])


def _matrix(value: Any, name: str) -> tuple[tuple[float, float, float], ...]:
    m = np.asarray(value, dtype=np.float64)
    if m.shape != (3, 3) or not np.all(np.isfinite(m)) or abs(np.linalg.det(m)) < 1e-12:
        raise IsplabError(f"{name} must be an invertible 3x3 matrix, got {value!r}")
    return tuple(tuple(float(v) for v in row) for row in m)  # type: ignore[return-value]


def normalise_neutral(neutral: Sequence[float]) -> Four:
    """Scale a 4-channel neutral so the mean of its two greens is 1."""
    if np.ndim(neutral) != 1:  # one number cannot say a light's colour
        raise IsplabError(f"a neutral is 4 values (canonical B, Gr, R, Gb), got {neutral!r}")
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
        colour_matrix: 3x3 XYZ -> camera ``(R, G, B)`` matrix (DNG ``ColorMatrix`` convention) for the light
            of ``neutral``, or ``None``. With the neutral it defines the domain's colour space: a model's is
            the space its inputs were in (the *canonical camera* of isplab's own models).
        forward_matrix: 3x3 white-balanced camera ``(R, G, B)`` -> XYZ (D50) where the source calibrated one
            (a DNG's ForwardMatrix); ``None``: derived from ``colour_matrix`` (:meth:`balanced_to_xyz`).
        auto_exposure: for a model, the level its training inputs put a white surface at (green channel,
            after white balance to ``neutral``): the camera adapter's automatic exposure scales a frame so its
            bright end (99th percentile of the brightest channel) lands there. ``None``: no automatic exposure.
        camera: free text: which sensor / data set this is.
    """

    black: Four = (0.0, 0.0, 0.0, 0.0)
    white: Four = (float(MAI_WHITE_LEVEL),) * 4  # type: ignore[assignment]
    sensor_black: Four | None = None
    order: tuple[str, ...] = CANONICAL_ORDER
    neutral: Four | None = None
    colour_matrix: tuple[tuple[float, float, float], ...] | None = None
    forward_matrix: tuple[tuple[float, float, float], ...] | None = None
    auto_exposure: float | None = None
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
        for name in ("colour_matrix", "forward_matrix"):
            if getattr(self, name) is not None:
                set_(self, name, _matrix(getattr(self, name), name))
        if self.forward_matrix is not None and self.colour_matrix is None:
            raise IsplabError("a forward_matrix needs the colour_matrix of the same camera")
        if self.auto_exposure is not None:
            level = float(self.auto_exposure)
            if not 0 < level <= 1:
                raise IsplabError(f"auto_exposure must be a level in (0, 1], got {self.auto_exposure!r}")
            set_(self, "auto_exposure", level)

    @property
    def effective_black(self) -> Four:
        """The level of zero light: ``sensor_black`` where given, else ``black``."""
        return self.black if self.sensor_black is None else self.sensor_black

    def with_neutral(self, neutral: Sequence[float] | None) -> RawDomain:
        return replace(self, neutral=None if neutral is None else normalise_neutral(neutral))

    def balanced_to_xyz(self, neutral: Sequence[float] | None = None, method: str = "mixed") -> np.ndarray | None:
        """White-balanced camera ``(R, G, B)`` -> XYZ (D50) of this domain's colour space for a light of
        4-channel ``neutral`` (default: the domain's own), or ``None`` without a colour matrix or neutral
        (:func:`isplab.raw.dng.balanced_to_xyz`)."""
        neutral = self.neutral if neutral is None else neutral
        if self.colour_matrix is None or neutral is None:
            return None
        forward = None if self.forward_matrix is None else np.asarray(self.forward_matrix)
        return balanced_to_xyz(np.asarray(self.colour_matrix), rgb_of(neutral), forward, method)

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
        for name in ("colour_matrix", "forward_matrix"):
            if values.get(name) is not None:
                values[name] = tuple(tuple(row) for row in values[name])
        for key in ("black", "white", "sensor_black", "order", "neutral"):
            if isinstance(values.get(key), list | tuple):  # a scalar level stands for all four channels
                values[key] = tuple(values[key])
        return cls(**values)


def load_profile(path: str | Path) -> RawDomain:
    """A camera profile file (YAML, as ``isplab profile`` writes it: a :class:`RawDomain` mapping)."""
    import yaml

    from isplab.config import safe_yaml

    path = Path(path)
    if not path.is_file():
        raise IsplabError(f"{path}: camera profile not found. Make one with `isplab profile CHART_RAW --out {path}`")
    try:
        data = safe_yaml(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise IsplabError(f"{path}: not a YAML camera profile ({type(exc).__name__}). "
                          "Write it with `isplab profile`") from None
    if not isinstance(data, dict):
        raise IsplabError(f"{path}: a camera profile is a mapping (black, white, neutral, colour_matrix, ...)")
    try:
        return RawDomain.from_dict(data, str(path))
    except (TypeError, ValueError) as exc:
        raise IsplabError(f"{path}: unusable camera profile ({exc})") from None


def with_profile(image: RawImage, profile: RawDomain) -> RawImage:
    """A frame read without colour metadata (PNG mosaic, headerless dump) with ``profile``'s colour space; its
    light is unknown, so no as-shot neutral (the adapter estimates one). Frames with metadata are returned as
    they are: the file's own description wins."""
    if image.xyz_to_cam is not None or profile.colour_matrix is None:
        return image
    matrix = np.asarray(profile.colour_matrix)
    forward = None if profile.forward_matrix is None else np.asarray(profile.forward_matrix)
    neutral = rgb_of(profile.neutral) if profile.neutral is not None else None
    return replace(image, xyz_to_cam=matrix, forward_matrix=forward,
                   cam_to_srgb=None if neutral is None else cam_to_srgb(matrix, neutral, forward))


def profile_levels(profile: RawDomain) -> dict[str, float]:
    """Reader options ``black`` and ``white`` (sensor units, channel means) of a camera profile."""
    return {"black": float(np.mean(profile.effective_black)), "white": float(np.mean(profile.white))}


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


def _canonical() -> tuple[tuple[tuple[float, ...], ...], Four]:
    matrix, neutral = camera_colour_space(np.asarray(BROOKS_MATRICES[0]), *CANONICAL_GAINS)
    return tuple(tuple(float(v) for v in row) for row in matrix), neutral_from_rgb(neutral)


#: White-balance gains ``(red, blue)`` of the canonical camera under D65: the middle of the default camera
#: family's ranges (:class:`isplab.data.CameraFamily`), so isplab's own models share this colour space.
CANONICAL_GAINS = (2.15, 1.7)
CANONICAL_MATRIX, CANONICAL_NEUTRAL = _canonical()

#: Models trained by isplab on its embedded data: black 0, white 1020 and the *canonical camera*: Brooks et
#: al.'s first XYZ -> camera matrix with the default family's mean white balance, the colour space every
#: frame is mapped into by the camera adapter (docs/camera.md).
ISPLAB_DOMAIN = RawDomain(colour_matrix=CANONICAL_MATRIX, neutral=CANONICAL_NEUTRAL,
                          auto_exposure=round(1 / 1.25, 6), camera="isplab canonical camera (raw / 1020)")

#: The colour space of isplab's shipped models (trained on spectral cameras, :mod:`isplab.data.spectral`):
#: white-balanced linear sRGB primaries, so the camera adapter does the whole colour transform, exactly as a
#: DNG pipeline's matrix does, and the network renders (demosaic, denoise, tone) without mixing colours.
LINEAR_SRGB_DOMAIN = RawDomain(colour_matrix=XYZ_TO_SRGB, neutral=(1.0, 1.0, 1.0, 1.0),
                               camera="linear sRGB primaries, white balanced (raw / 1020)")

#: Models trained on the Fujifilm UltraISP raws normalised MAI-style (raw / 1020, pedestal kept).
ULTRAISP_MAI_DOMAIN = RawDomain(sensor_black=ULTRAISP_BLACK,
                                camera="Sony IMX586 (Fujifilm UltraISP), raw / 1020 with its black pedestal")
