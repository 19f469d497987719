"""Spectral cameras: simulated sensors under real light sources, seen through a DNG pipeline.

Each draw of a :class:`SpectralFamily` is one camera and one light:

* a sensor's spectral sensitivities: colour-science's NPL-measured cameras by name, or ``parametric``
  sensors (one main Gaussian lobe per channel, a weaker secondary lobe, cross-talk between channels, IR
  and UV cut-offs; ranges span phone and DSLR sensors);
* a light: CIE daylight or a black body at a colour temperature drawn in ``cct``, a CIE fluorescent
  (FL1-FL12) or a CIE LED (LED-B1...V2) spectrum;
* what its maker would store in a DNG: ColorMatrix calibrated by least squares on the RAW to ACES training
  reflectances (190 spectra) under D65, with probability ``dual_calibration`` a second one under illuminant
  A; the as-shot neutral (the sensor's response to the light).

A scene pixel is a reflectance spectrum made from its linear sRGB value with Mallett & Yuksel's (2019) three
basis spectra, so the sensor's response under the light is a 3x3 matrix of the pixel. The raw is then
mapped into the model's colour space by exactly what ``isplab develop`` does with such a DNG
(:func:`isplab.raw.dng.shot_colour`, :func:`isplab.camera.adapt.camera_to_camera`): the model is trained on
what a real DNG pipeline hands it, including the error a 3x3 matrix calibrated under D65 leaves under
other lights. Targets are the photos as they are (colorimetric sRGB: no tone curve is inverted).

The bank of ``bank`` draws is computed once (colour-science, numpy; a pure function of the family's
fields); samples pick from it and add their own exposure and noise.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor

from isplab.camera.adapt import camera_to_camera, packed_matrix
from isplab.camera.profile import LINEAR_SRGB_DOMAIN, RawDomain, neutral_from_rgb
from isplab.colour import apply_matrix, srgb_degamma
from isplab.raw.bayer import pack_rgb
from isplab.raw.dng import COLOUR_METHODS, DngColour, shot_colour

LIGHTS = ("daylight", "planckian", "fluorescent", "led")
_FLUORESCENT = tuple(f"FL{i}" for i in range(1, 13))
_LED = ("LED-B1", "LED-B2", "LED-B3", "LED-B4", "LED-B5", "LED-BH1", "LED-RGB1", "LED-V1", "LED-V2")
_WAVELENGTHS = np.arange(400.0, 701.0, 10.0)

#: EXIF LightSource codes of the two calibrations a maker stores (DNG CalibrationIlluminant1/2).
_STD_A, _D65 = 17, 21


@dataclass
class SpectralFamily:
    """Spectral cameras (see the module docstring). Ranges are ``(low, high)``.

    Attributes:
        sensors: ``parametric`` and/or names of colour-science's measured cameras (e.g.
            ``"Nikon 5100 (NPL)"``); the measured ones are held out by default (benchmarks use them).
        lights: light kinds to draw from (:data:`LIGHTS`), equally often.
        cct: colour temperature range of daylight and black-body lights, K.
        dual_calibration: fraction of draws whose DNG carries a second matrix, calibrated under A.
        colour_method: the camera -> XYZ estimate used without a forward matrix (``isplab.raw.dng``).
        exposure_gain: the ISP's digital gain (uniform): the brightest channel of a white surface reaches
            ``1 / exposure_gain`` of the sensor's range.
        shot_noise, read_noise_*: as :class:`isplab.data.CameraFamily` (variance per unit signal, log-uniform).
        bank: number of (sensor, light) draws computed up front; ``seed`` their seed.
    """

    sensors: tuple[str, ...] = ("parametric",)
    lights: tuple[str, ...] = LIGHTS
    cct: tuple[float, float] = (2500.0, 10000.0)
    dual_calibration: float = 0.5
    colour_method: str = "mixed"
    exposure_gain: tuple[float, float] = (1.0, 1.25)
    shot_noise: tuple[float, float] = (1e-4, 4e-3)
    read_noise_slope: float = 2.18
    read_noise_intercept: float = 1.20
    read_noise_std: float = 0.26
    bank: int = 512
    seed: int = 0

    def __post_init__(self) -> None:
        self.sensors, self.lights = tuple(self.sensors), tuple(self.lights)
        unknown = sorted(set(self.lights) - set(LIGHTS))
        if unknown or not self.lights:
            raise ValueError(f"lights must be some of {', '.join(LIGHTS)}, got {list(self.lights)}")
        if not self.sensors:
            raise ValueError("sensors must name at least one sensor ('parametric' or a measured camera)")
        if self.colour_method not in COLOUR_METHODS:
            raise ValueError(f"colour_method must be one of {', '.join(COLOUR_METHODS)}, got {self.colour_method!r}")
        for name in ("cct", "exposure_gain", "shot_noise"):
            low, high = (float(v) for v in getattr(self, name))
            if not 0 < low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {getattr(self, name)}")
            setattr(self, name, (low, high))
        if not 0 <= self.dual_calibration <= 1 or self.bank < 1:
            raise ValueError("dual_calibration must be in [0, 1] and bank >= 1")

    # ---- the bank of (sensor, light) draws ---------------------------------------------------------------

    @cached_property
    def draws(self) -> dict[str, np.ndarray]:
        """``scene`` (K, 3, 3) linear sRGB -> camera RGB under the light (a white surface at green 1 in the model's
        space),
        ``to_model`` (K, 3, 3) camera RGB -> model camera RGB (the adapter's map), ``neutral`` (K, 3)."""
        data = SpectralData()
        rng = np.random.default_rng([self.seed, 0x5EC])
        scene, to_model, neutrals = [], [], []
        while len(scene) < self.bank:
            name = self.sensors[rng.integers(len(self.sensors))]
            sensor = data.parametric_sensor(rng) if name == "parametric" else data.measured_sensor(name)
            light = data.light(self.lights[rng.integers(len(self.lights))], self.cct, rng)
            camera = (light[:, None] * data.basis).T @ sensor  # (basis j, channel k) -> transpose below
            white = light @ sensor
            matrices = [data.calibrate(sensor, data.light_named("D65"))]
            illuminants = [_D65]
            if rng.random() < self.dual_calibration:
                matrices.insert(0, data.calibrate(sensor, data.light_named("A")))
                illuminants.insert(0, _STD_A)
            neutral = white / white[1]
            shot = shot_colour(DngColour(tuple(matrices), tuple(illuminants), as_shot_neutral=neutral))
            frame = RawDomain(colour_matrix=shot.xyz_to_camera, neutral=neutral_from_rgb(neutral))
            mapping = camera_to_camera(frame, LINEAR_SRGB_DOMAIN, frame.neutral, self.colour_method)
            # Exposed for the model's green: a white surface reaches green 1 in the model's space (before the
            # exposure gain), as an exposure meter would set it; another channel may clip, as in real raws.
            scene.append(camera.T / (mapping @ white)[1])
            to_model.append(mapping)
            neutrals.append(neutral)
        return {"scene": np.stack(scene), "to_model": np.stack(to_model), "neutral": np.stack(neutrals)}

    # ---- rendering ---------------------------------------------------------------------------------------

    def render(self, srgb: Tensor, rng: np.random.Generator) -> tuple[Tensor, list[dict[str, Any]]]:
        """sRGB targets ``(N, 3, H, W)`` -> the model's packed input ``(N, 4, H/2, W/2)`` in [0, 1] and one
        record per sample. Pure function of ``rng``'s state."""
        n = len(srgb)
        bank = self.draws
        index = rng.integers(len(bank["scene"]), size=n)
        exposure = rng.uniform(*self.exposure_gain, size=n)
        log_shot = rng.uniform(*np.log(self.shot_noise), size=n)
        log_read = self.read_noise_slope * log_shot + self.read_noise_intercept + rng.normal(
            0, self.read_noise_std, size=n)
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        scene = torch.from_numpy(bank["scene"][index] / exposure[:, None, None]).float()
        signal = pack_rgb(apply_matrix(srgb_degamma(srgb), scene).clamp(0, 1))
        shot = torch.from_numpy(np.exp(log_shot)).float()[:, None, None, None]
        read = torch.from_numpy(np.exp(log_read)).float()[:, None, None, None]
        noise = torch.randn(signal.shape, generator=generator) * (signal * shot + read).sqrt()
        signal = (signal + noise).clamp(max=1)  # saturates; below black stays negative, as a raw minus black
        mix = torch.from_numpy(np.stack([packed_matrix(m) for m in bank["to_model"][index]])).float()
        model_input = torch.einsum("noi,nihw->nohw", mix, signal).clamp(0, 1)
        records = [{"draw": int(i), "exposure_gain": float(e), "shot_noise": float(np.exp(s)),
                    "read_noise": float(np.exp(r)), "neutral": bank["neutral"][i].round(5).tolist()}
                   for i, e, s, r in zip(index, exposure, log_shot, log_read, strict=True)]
        return model_input, records

    def colour_space(self, white_level: float | None = None) -> RawDomain:
        """The raw domain of the model input this family renders: white-balanced linear sRGB, a white surface
        at ``1 / mean exposure gain`` (levels: raw / ``white_level``, default 1020)."""
        return replace(LINEAR_SRGB_DOMAIN, white=(float(white_level or LINEAR_SRGB_DOMAIN.white[0]),) * 4,
                       auto_exposure=round(1 / self.nominal_exposure, 6))

    @property
    def nominal_cam_to_srgb(self) -> np.ndarray:
        """The model input's colours -> linear sRGB (what a classical ISP is told): the identity."""
        return np.eye(3)

    @property
    def nominal_exposure(self) -> float:
        return float(np.mean(self.exposure_gain))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "spectral", **{f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
                                       for f in dataclasses.fields(self)}}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "camera") -> SpectralFamily:
        from isplab.config import from_dict

        return from_dict(cls, {k: v for k, v in data.items() if k != "kind"}, source)


class SpectralData:
    """colour-science's spectral data on one 400-700 nm, 10 nm grid (imported only when a bank is built)."""

    def __init__(self) -> None:
        with warnings.catch_warnings():  # colour-science warns that matplotlib is absent
            warnings.simplefilter("ignore")
            import colour  # ~1 s to import: training-time only

        self.colour = colour
        shape = colour.SpectralShape(400, 700, 10)
        self.shape = shape
        self.cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"].copy().align(shape).values
        self.basis = colour.recovery.MSDS_BASIS_FUNCTIONS_sRGB_MALLETT2019.copy().align(shape).values  # (31, 3)
        self.training = colour.characterisation.read_training_data_rawtoaces_v1().copy().align(shape).values.T

    def colour_checker(self) -> np.ndarray:
        """``(24, 31)`` reflectances of the ColorChecker 24 (N. Ohta's measurements), patch 1 first."""
        chart = self.colour.SDS_COLOURCHECKERS["ColorChecker N Ohta"]
        return np.stack([sd.copy().align(self.shape).values for sd in chart.values()])

    def light_named(self, name: str) -> np.ndarray:
        return self.colour.SDS_ILLUMINANTS[name].copy().align(self.shape).values

    def light(self, kind: str, cct: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
        colour = self.colour
        if kind == "daylight":
            xy = colour.temperature.CCT_to_xy_CIE_D(rng.uniform(max(cct[0], 4000.0), max(cct[1], 4000.0)))
            values = colour.sd_CIE_illuminant_D_series(xy).copy().align(self.shape).values
        elif kind == "planckian":
            values = colour.sd_blackbody(rng.uniform(*cct), self.shape).values
        else:
            names = _FLUORESCENT if kind == "fluorescent" else _LED
            values = self.light_named(names[rng.integers(len(names))])
        return values / values.max()

    def measured_sensor(self, name: str) -> np.ndarray:
        sensors = self.colour.MSDS_CAMERA_SENSITIVITIES
        if name not in sensors:
            raise ValueError(f"unknown sensor {name!r}; measured sensors: {', '.join(sensors)}, or 'parametric'")
        values = sensors[name].copy().align(self.shape, extrapolator_kwargs={"method": "Constant", "left": 0,
                                                                            "right": 0}).values
        return values / values.max()

    def parametric_sensor(self, rng: np.random.Generator) -> np.ndarray:
        """``(31, 3)`` R, G, B sensitivities: Gaussian main lobes (centres and widths spanning phone and DSLR
        sensors), a weaker secondary lobe, cross-talk and IR/UV cut-off filters."""
        wl = _WAVELENGTHS

        def lobe(centre: float, width: float) -> np.ndarray:
            return np.exp(-0.5 * ((wl - centre) / width) ** 2)

        channels = []
        for centre, width in (((580, 620), (25, 55)), ((510, 555), (30, 60)), ((440, 475), (20, 45))):
            main = lobe(rng.uniform(*centre), rng.uniform(*width))
            channels.append(main + rng.uniform(0, 0.3) * lobe(rng.uniform(400, 700), rng.uniform(20, 60)))
        crosstalk = np.eye(3) + rng.uniform(0.0, 0.35, (3, 3)) * (1 - np.eye(3))
        ir = 1 / (1 + np.exp((wl - rng.uniform(630, 690)) / rng.uniform(5, 12)))
        uv = 1 / (1 + np.exp(-(wl - rng.uniform(395, 425)) / rng.uniform(4, 10)))
        sensor = np.stack(channels, axis=1) @ crosstalk * (ir * uv)[:, None] * rng.uniform(0.5, 1.0, 3)
        return sensor / sensor.max()

    def calibrate(self, sensor: np.ndarray, light: np.ndarray) -> np.ndarray:
        """The maker's XYZ -> camera matrix under ``light``: least squares on the training reflectances,
        scaled so the light's white has its brightest camera channel at 1 (DNG ColorMatrix convention)."""
        lit = self.training * light
        xyz = lit @ self.cmfs / (light @ self.cmfs[:, 1])
        camera = lit @ sensor
        solution, *_ = np.linalg.lstsq(xyz, camera, rcond=None)
        matrix = solution.T
        white = light @ self.cmfs / (light @ self.cmfs[:, 1])
        return matrix / (matrix @ white).max()
