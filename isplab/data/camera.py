"""A family of simulated phone cameras, and the camera model that turns sRGB photos into their raw data.

Following Brooks et al., "Unprocessing Images for Learned Raw Denoising" (CVPR 2019), an sRGB image is
turned into the raw a camera would have recorded: inverse tone curve (smoothstep) -> inverse sRGB gamma ->
linear sRGB to camera RGB (from an XYZ -> camera matrix) -> inverse white-balance and exposure gains ->
Bayer sampling -> shot + read noise -> black level -> 10-bit quantisation (white level 1020, the MAI
convention). The target is the clean sRGB image itself, so a network learns raw -> RGB, and
:func:`process` (the forward ISP the targets follow) inverts :func:`unprocess`.

A :class:`CameraFamily` gives every parameter a range; each sample draws one member (:class:`CameraDraw`):
its own colour matrix (a random convex mix of the family's matrices, plus jitter), white balance,
exposure, black level and noise. Everything is vectorised over the batch in torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from isplab.camera.profile import RawDomain, neutral_from_rgb
from isplab.colorimetry import BROOKS_MATRICES, camera_colour_space, srgb_to_camera
from isplab.colour import apply_matrix, inverse_smoothstep, smoothstep, srgb_degamma, srgb_gamma
from isplab.config import safe_yaml, yaml_problem
from isplab.errors import DataError
from isplab.raw.bayer import MAI_WHITE_LEVEL, normalize, pack_rgb

REFERENCE = "Brooks et al., Unprocessing Images for Learned Raw Denoising, CVPR 2019"


def _brooks_xyz_to_cam() -> list[list[float]]:
    return [list(row) for row in BROOKS_MATRICES[0]]

_RANGES = ("red_gain", "blue_gain", "exposure_gain", "shot_noise", "black_level")


@dataclass
class CameraFamily:
    """The simulated cameras. Ranges are ``(low, high)``; each sample draws one value from each.

    Attributes:
        xyz_to_cam: one 3x3 XYZ -> camera RGB matrix, or a list of them; each sample uses a random convex
            combination (Brooks et al.), so a list makes a family of sensors.
        matrix_jitter: relative std of a random perturbation of each sample's matrix (0: none).
        red_gain, blue_gain: white-balance gains the ISP applies (uniform); their spread is the range of
            illuminants the model must learn to correct.
        exposure_gain: global digital gain the ISP applies (uniform).
        black_level: black level in sensor codes (uniform, whole codes); the data is stored without
            subtracting it, as phone raw is.
        white_level: sensor code of saturation (1020 = 4 * 255, the MAI datasets' scale).
        shot_noise: shot-noise variance per unit signal (log-uniform).
        read_noise_slope, read_noise_intercept, read_noise_std: ``log(read) = slope * log(shot) +
            intercept + N(0, std)``, the fit to real sensors from Brooks et al.
    """

    xyz_to_cam: list = field(default_factory=_brooks_xyz_to_cam)
    matrix_jitter: float = 0.0
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)
    exposure_gain: tuple[float, float] = (1.1, 1.4)
    black_level: tuple[float, float] = (0.0, 0.0)
    white_level: float = MAI_WHITE_LEVEL
    # Brooks go up to 0.012 (low light); the UltraISP scenes are daylight, so the default stops lower.
    shot_noise: tuple[float, float] = (1e-4, 4e-3)
    read_noise_slope: float = 2.18
    read_noise_intercept: float = 1.20
    read_noise_std: float = 0.26

    def __post_init__(self) -> None:
        matrices = np.asarray(self.xyz_to_cam, dtype=np.float64)
        if matrices.shape == (3, 3):
            matrices = matrices[None]
        if (matrices.ndim != 3 or matrices.shape[1:] != (3, 3) or not np.all(np.isfinite(matrices))
                or np.any(np.abs(np.linalg.det(matrices)) < 1e-9)):
            raise ValueError(f"xyz_to_cam must be an invertible 3x3 matrix or a list of them, got {self.xyz_to_cam}")
        self.xyz_to_cam = (matrices[0] if len(matrices) == 1 else matrices).tolist()
        for name in _RANGES:
            low, high = (float(v) for v in getattr(self, name))
            if not (0 <= low <= high if name == "black_level" else 0 < low <= high):
                raise ValueError(f"{name} must be (low, high), 0 < low <= high; got {getattr(self, name)}")
            setattr(self, name, (low, high))
        if not 0 <= self.matrix_jitter < 1:
            raise ValueError(f"matrix_jitter must be in [0, 1), got {self.matrix_jitter}")
        if self.black_level[1] >= 0.5 * self.white_level:
            raise ValueError(f"black_level {self.black_level} must stay below half the white level {self.white_level}")

    @property
    def matrices(self) -> np.ndarray:
        """The family's XYZ -> camera matrices ``(K, 3, 3)``."""
        m = np.asarray(self.xyz_to_cam, dtype=np.float64)
        return m[None] if m.ndim == 2 else m

    @property
    def nominal_srgb_to_cam(self) -> np.ndarray:
        """Linear sRGB -> camera RGB ``(3, 3)`` of the family's mean matrix (what a classical ISP is told)."""
        return srgb_to_camera(self.matrices.mean(axis=0))

    def colour_space(self, white_level: float | None = None) -> RawDomain:
        """The raw domain of the family's nominal camera: its data's levels (raw / ``white_level``, default
        the family's) and colour space (mean matrix, mean white balance; what a model trained on it expects)."""
        matrix, neutral = camera_colour_space(self.matrices.mean(axis=0), float(np.mean(self.red_gain)),
                                              float(np.mean(self.blue_gain)))
        return RawDomain(white=white_level or self.white_level, colour_matrix=matrix, neutral=neutral_from_rgb(neutral),
                         auto_exposure=round(1 / self.nominal_exposure, 6),
                         camera=f"isplab camera family ({REFERENCE})")

    def render(self, srgb: Tensor, rng: np.random.Generator) -> tuple[Tensor, list[dict[str, Any]]]:
        """sRGB targets ``(N, 3, H, W)`` -> their raw ``(N, 4, H/2, W/2)`` (codes / white level, not clipped)
        through ``N`` fresh cameras, and one record per sample. Pure function of ``rng``'s state."""
        draw = self.draw(len(srgb), rng)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        codes = expose(unprocess(srgb, draw), draw, generator)
        return torch.from_numpy(normalize(codes.numpy(), 0, MAI_WHITE_LEVEL, clip=False)), draw.records()

    @property
    def nominal_cam_to_srgb(self) -> np.ndarray:
        return np.linalg.inv(self.nominal_srgb_to_cam)

    @property
    def nominal_exposure(self) -> float:
        return float(np.mean(self.exposure_gain))

    def draw(self, n: int, rng: np.random.Generator) -> CameraDraw:
        """``n`` cameras of the family, a pure function of ``rng``'s state."""
        k = len(self.matrices)
        weights = rng.dirichlet(np.ones(k), size=n) if k > 1 else np.ones((n, 1))
        xyz_to_cam = np.einsum("nk,kij->nij", weights, self.matrices)
        if self.matrix_jitter:
            xyz_to_cam = xyz_to_cam * (1 + self.matrix_jitter * rng.standard_normal((n, 3, 3)))
        log_shot = rng.uniform(*np.log(self.shot_noise), size=n)
        log_read = self.read_noise_slope * log_shot + self.read_noise_intercept + rng.normal(
            0, self.read_noise_std, size=n)
        low, high = self.black_level
        return CameraDraw(
            srgb_to_cam=srgb_to_camera(xyz_to_cam),
            red_gain=rng.uniform(*self.red_gain, size=n), blue_gain=rng.uniform(*self.blue_gain, size=n),
            exposure_gain=rng.uniform(*self.exposure_gain, size=n),
            black_level=np.floor(rng.uniform(low, high + 1, size=n)).clip(low, high) if high > low
            else np.full(n, low),
            white_level=float(self.white_level), shot_noise=np.exp(log_shot), read_noise=np.exp(log_read))

    # ---- (de)serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "brooks", **{k: list(v) if isinstance(v, tuple) else v
                                     for k, v in dataclasses.asdict(self).items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> CameraFamily:
        """Build from a plain dict (parsed YAML/JSON); unknown keys are an error. A dataset's ``camera.json``
        is accepted too (its ``camera`` entry)."""
        if not isinstance(data, dict):
            raise DataError(source, "camera parameters must be a mapping of names to values",
                            "write one `name: value` per line")
        if isinstance(data.get("camera"), dict) and "format" in data:
            data = data["camera"]
        data = {k: v for k, v in data.items() if k != "kind"}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(source, f"unknown camera parameter(s) {', '.join(unknown)}",
                            f"valid names are {', '.join(sorted(known))}")
        try:
            return cls(**{k: tuple(v) if k in _RANGES and isinstance(v, list) else v for k, v in data.items()})
        except (TypeError, ValueError) as exc:
            raise DataError(source, f"invalid camera parameters ({exc})", "fix the value named above") from None

    @classmethod
    def load(cls, path: str | Path) -> CameraFamily:
        """Read a YAML or JSON file (YAML is a superset of JSON)."""
        return cls.from_dict(read_camera_file(path), path)


def read_camera_file(path: str | Path) -> dict[str, Any]:
    """The mapping in a camera YAML/JSON file (``{}`` when empty); a missing or malformed file is a
    :class:`DataError`."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise DataError(path, "camera file not found", "check the path")
    try:
        data = safe_yaml(path.read_text())
    except yaml.YAMLError as exc:
        raise DataError(path, f"not valid YAML/JSON ({yaml_problem(exc)})", "fix the syntax") from None
    return data or {}


@dataclass
class CameraDraw:
    """Per-sample camera parameters, arrays of length ``n`` (``srgb_to_cam`` is ``(n, 3, 3)``)."""

    srgb_to_cam: np.ndarray
    red_gain: np.ndarray
    blue_gain: np.ndarray
    exposure_gain: np.ndarray
    black_level: np.ndarray
    white_level: float
    shot_noise: np.ndarray
    read_noise: np.ndarray

    def gains(self) -> Tensor:
        """The ISP's per-sample RGB gains (white balance times exposure) ``(n, 3, 1, 1)``."""
        rgb = np.stack([self.red_gain, np.ones_like(self.red_gain), self.blue_gain], axis=-1)
        return torch.from_numpy(rgb * self.exposure_gain[:, None]).float()[:, :, None, None]

    def records(self) -> list[dict[str, Any]]:
        """One JSON-able record per sample (written beside synthesised data)."""
        return [{"srgb_to_cam": self.srgb_to_cam[i].round(6).tolist(), "red_gain": float(self.red_gain[i]),
                 "blue_gain": float(self.blue_gain[i]), "exposure_gain": float(self.exposure_gain[i]),
                 "black_level": float(self.black_level[i]), "shot_noise": float(self.shot_noise[i]),
                 "read_noise": float(self.read_noise[i])} for i in range(len(self.red_gain))]


def unprocess(srgb: Tensor, draw: CameraDraw) -> Tensor:
    """sRGB ``(n, 3, H, W)`` in [0, 1] -> clean linear camera RGB ``(n, 3, H, W)`` in [0, 1]."""
    linear = srgb_degamma(inverse_smoothstep(srgb))
    cam = apply_matrix(linear, torch.from_numpy(draw.srgb_to_cam).float())
    gains = draw.gains()
    # Brooks' "safe" inversion: near-white pixels keep gain ~1 so highlights do not turn magenta when
    # the ISP's gains push them past clipping.
    grey = cam.mean(dim=1, keepdim=True)
    mask = ((grey - 0.9).clamp_min(0) / 0.1) ** 2
    safe = torch.maximum(mask + (1 - mask) / gains, 1 / gains)
    return (cam * safe).clamp(0, 1)


def process(cam: Tensor, draw: CameraDraw) -> Tensor:
    """The forward ISP the targets follow: clean camera RGB ``(n, 3, H, W)`` -> sRGB in [0, 1]."""
    balanced = (cam * draw.gains()).clamp(0, 1)
    cam_to_srgb = torch.linalg.inv(torch.from_numpy(draw.srgb_to_cam).float())
    return smoothstep(srgb_gamma(apply_matrix(balanced, cam_to_srgb).clamp(0, 1)))


def expose(cam: Tensor, draw: CameraDraw, generator: torch.Generator) -> Tensor:
    """Clean camera RGB ``(n, 3, H, W)`` -> the sensor's packed raw codes ``(n, 4, H/2, W/2)``.

    RGGB sampling, heteroscedastic Gaussian noise (variance ``shot * signal + read``), black level,
    rounding to whole codes and clipping at ``[0, white_level]``. Codes are float32.
    """
    packed = pack_rgb(cam)
    shot = torch.from_numpy(draw.shot_noise).float()[:, None, None, None]
    read = torch.from_numpy(draw.read_noise).float()[:, None, None, None]
    noise = torch.randn(packed.shape, generator=generator) * (packed * shot + read).sqrt()
    black = torch.from_numpy(draw.black_level).float()[:, None, None, None]
    white = draw.white_level
    codes = black + (packed + noise) * (white - black)
    return codes.round().clamp(0, white)

