"""ColorChecker colour accuracy on spectral cameras: isplab's default, its classical ISP and LibRaw.

Each capture is a ColorChecker 24 (N. Ohta's measured reflectances, colour-science) photographed by a sensor
with measured spectral sensitivities (colour-science's two NPL sets: a Nikon D5100 and a Sigma SD Merrill,
whose Foveon layers respond very unlike a Bayer sensor) under a light (CIE D65, A, FL2), written as a DNG the
way a phone writes one (pidng): 12-bit RGGB, BlackLevel 256, WhiteLevel 4095, shot and read noise, the
white patch at ~85 % of the range, ColorMatrix1 calibrated by the "maker" under D65 (least squares on the
RAW to ACES training reflectances, not the chart), AsShotNeutral the sensor's response to the light.
Neither sensor is in the spectral camera family the shipped weights were trained on (they draw parametric
sensors only).

Every DNG is developed by

* ``isplab default``: ``isplab develop`` with its defaults (the shipped model with the best test PSNR, camera
  adapter on, ``--colour-method mixed``); with ``--methods`` also ``dng`` and ``camera``;
* ``isplab classical``: ``isplab develop --weights classic`` (Menon demosaic, as-shot WB, the file's matrix,
  sRGB + S-curve);
* ``LibRaw``: ``rawpy`` ``postprocess(use_camera_wb=True)`` (sRGB output, its defaults otherwise);
* ``official MicroISP``: the MAI 2022 weights imported as ``isplab import microisp`` does (when ../shared is
  there).

Measure, per capture and renderer (:mod:`isplab.camera.colorchecker`): the mean sRGB of a box inside each
patch -> CIELAB (D65) against the chart's reference (its reflectances under D65, CIE 1931 2°): the mean and
max CIEDE2000 with lightness removed (chroma + hue), the full CIEDE2000, and the mean chroma C*ab of the six
grey patches. ``--extended`` adds captures by parametric sensors of held-out seeds under more lights.

Writes ``benchmarks/results/colour_checker.{json,md}`` and ``colour_checker.png`` (every rendering side by
side, one row per capture).

    python benchmarks/colour_checker.py [--extended] [--methods] [--weights pretrained:NAME]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _results import RESULTS, write_results
from PIL import Image, ImageDraw

from isplab.camera.colorchecker import chroma_hue_error, patch_means
from isplab.data.spectral import SpectralData

SHARED = Path(__file__).resolve().parents[2] / "shared"
OFFICIAL = SHARED / "peers" / "microisp-official" / "MicroISP.tflite"
SENSORS = {"Nikon D5100": "Nikon 5100 (NPL)", "Sigma SD Merrill": "Sigma SDMerill (NPL)"}
LIGHTS = ("D65", "A", "FL2")
EXTENDED_LIGHTS = ("D50", "FL11", "LED-B3", "LED-V1")
PATCH, GAP = 80, 16  #: chart geometry, full-resolution pixels
HEIGHT, WIDTH = 4 * PATCH + 5 * GAP, 6 * PATCH + 7 * GAP
BLACK, WHITE = 256, 4095
WHITE_PATCH_LEVEL = 0.85  #: the white patch's brightest channel, fraction of the range above black
READ_NOISE, GAIN = 4.0, 1.0  #: DN; electrons per DN


def centres() -> np.ndarray:
    """``(24, 2)`` patch centres ``(x, y)``."""
    index = np.arange(24)
    return np.stack([GAP + index % 6 * (PATCH + GAP) + PATCH / 2, GAP + index // 6 * (PATCH + GAP) + PATCH / 2], 1)


def chart_mosaic(data: SpectralData, chart: np.ndarray, sensor: np.ndarray, light: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The 12-bit RGGB mosaic of the chart (dark surround) and the sensor's neutral under ``light``."""
    labels = np.full((HEIGHT, WIDTH), 24)  # 24: the surround, a dark neutral
    for i, (x, y) in enumerate(centres()):
        labels[int(y - PATCH / 2):int(y + PATCH / 2), int(x - PATCH / 2):int(x + PATCH / 2)] = i
    spectra = np.vstack([chart, np.full(chart.shape[1], 0.05)])
    camera = (spectra * light) @ sensor  # (25, 3) camera RGB per surface
    white = light @ sensor
    camera = camera / (camera[18].max()) * WHITE_PATCH_LEVEL
    image = camera[labels]  # (H, W, 3)
    site = np.zeros((HEIGHT, WIDTH), dtype=int)
    site[0::2, 1::2] = site[1::2, 0::2] = 1
    site[1::2, 1::2] = 2
    signal = np.take_along_axis(image, site[..., None], axis=2)[..., 0] * (WHITE - BLACK)
    noisy = signal + rng.standard_normal(signal.shape) * np.sqrt(signal / GAIN + READ_NOISE ** 2)
    return np.clip(np.round(noisy + BLACK), 0, WHITE).astype(np.uint16), white / white[1]


def write_dng(path: Path, mosaic: np.ndarray, colour_matrix: np.ndarray, neutral: np.ndarray) -> Path:
    from pidng.core import RAW2DNG, DNGTags, Tag
    from pidng.defs import CalibrationIlluminant, CFAPattern, DNGVersion, Orientation, PhotometricInterpretation

    def rationals(values: np.ndarray) -> list[list[int]]:
        return [[int(round(v * 10000)), 10000] for v in np.ravel(values)]

    tags = DNGTags()
    for tag, value in ((Tag.ImageWidth, WIDTH), (Tag.ImageLength, HEIGHT), (Tag.TileWidth, WIDTH),
                       (Tag.TileLength, HEIGHT), (Tag.Orientation, Orientation.Horizontal),
                       (Tag.PhotometricInterpretation, PhotometricInterpretation.Color_Filter_Array),
                       (Tag.SamplesPerPixel, 1), (Tag.BitsPerSample, 16), (Tag.CFARepeatPatternDim, [2, 2]),
                       (Tag.CFAPattern, CFAPattern.RGGB), (Tag.BlackLevel, BLACK), (Tag.WhiteLevel, WHITE),
                       (Tag.ColorMatrix1, rationals(colour_matrix)),
                       (Tag.CalibrationIlluminant1, CalibrationIlluminant.D65),
                       (Tag.AsShotNeutral, rationals(neutral)), (Tag.Make, "isplab"), (Tag.Model, "spectral"),
                       (Tag.DNGVersion, DNGVersion.V1_4), (Tag.DNGBackwardVersion, DNGVersion.V1_2)):
        tags.set(tag, value)
    writer = RAW2DNG()
    writer.options(tags, path=str(path.parent), compress=False)
    writer.convert(mosaic, filename=path.stem)
    return path


def libraw(path: Path) -> np.ndarray:
    import rawpy

    with rawpy.imread(str(path)) as raw:
        return raw.postprocess(use_camera_wb=True, output_color=rawpy.ColorSpace.sRGB)


def measure(srgb8: np.ndarray, reference_lab: np.ndarray) -> dict[str, Any]:
    from skimage.color import deltaE_ciede2000, rgb2lab

    lab = rgb2lab(patch_means(srgb8.astype(np.float64) / 255, centres())[None])[0]
    chroma_hue = chroma_hue_error(lab, reference_lab)
    return {"chroma_hue_mean": float(chroma_hue.mean()), "chroma_hue_max": float(chroma_hue.max()),
            "de2000_mean": float(deltaE_ciede2000(reference_lab, lab).mean()),
            "grey_chroma": float(np.hypot(lab[18:, 1], lab[18:, 2]).mean()),
            "lab": np.round(lab, 2).tolist()}


def renderers(weights: str | None, methods: bool, work: Path) -> dict[str, Any]:
    """name -> (runner, develop settings)."""
    from isplab.develop.pipeline import DevelopSettings
    from isplab.develop.runners import load_runner
    from isplab.models.weights import best_pretrained

    default = weights or f"pretrained:{best_pretrained()}"
    runner = load_runner(default)
    out = {"isplab default": (runner, DevelopSettings())}
    if methods:
        for method in ("dng", "camera"):
            out[f"isplab default, --colour-method {method}"] = (runner, DevelopSettings(colour_method=method))
    out["isplab classical"] = (load_runner("classic"), DevelopSettings())
    if OFFICIAL.is_file():
        from isplab.cli import main as isplab

        checkpoint = work / "microisp_official.pt"
        if isplab(["import", "microisp", "--from", str(OFFICIAL), "--out", str(checkpoint)]) != 0:
            raise SystemExit("isplab import microisp failed")
        out["official MicroISP (imported)"] = (load_runner(str(checkpoint)), DevelopSettings())
    return out


def develop(path: Path, runner: Any, settings: Any, out: Path) -> np.ndarray:
    from isplab.develop.pipeline import develop_file

    return np.asarray(Image.open(develop_file(path, runner, out, settings)))


def captures(data: SpectralData, extended: bool) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(sensor name, light name, sensitivities, light spectrum)."""
    out = [(name, light, data.measured_sensor(key), data.light_named(light))
           for name, key in SENSORS.items() for light in LIGHTS]
    if extended:
        rng = np.random.default_rng(2026)  # sensors of a seed the shipped weights' bank never drew
        for k in range(4):
            sensor = data.parametric_sensor(rng)
            out += [(f"parametric #{k}", light, sensor, data.light_named(light)) for light in EXTENDED_LIGHTS]
    return out


def picture(rows: list[tuple[str, dict[str, np.ndarray]]], path: Path) -> None:
    """One row per capture: every renderer's chart, half size, labelled."""
    names = list(rows[0][1])
    w, h, label = WIDTH // 2, HEIGHT // 2, 18
    canvas = Image.new("RGB", (len(names) * (w + 8) + 8, len(rows) * (h + label + 8) + label + 8), "white")
    draw = ImageDraw.Draw(canvas)
    for j, name in enumerate(names):
        draw.text((8 + j * (w + 8), 4), name, fill="black")
    for i, (capture, images) in enumerate(rows):
        y = label + 8 + i * (h + label + 8)
        draw.text((8, y), capture, fill="black")
        for j, name in enumerate(names):
            canvas.paste(Image.fromarray(images[name]).resize((w, h), Image.LANCZOS), (8 + j * (w + 8), y + label))
    canvas.save(path)


def run(extended: bool, methods: bool, weights: str | None) -> dict[str, Any]:
    from skimage.color import xyz2lab

    data = SpectralData()
    chart = data.colour_checker()
    d65 = data.light_named("D65")
    reference_lab = xyz2lab((chart * d65) @ data.cmfs / (d65 @ data.cmfs[:, 1]), "D65")
    rng = np.random.default_rng(0)
    results, pictures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subjects = renderers(weights, methods, work)
        for sensor_name, light_name, sensor, light in captures(data, extended):
            start = time.perf_counter()
            mosaic, neutral = chart_mosaic(data, chart, sensor, light, rng)
            matrix = data.calibrate(sensor, d65)
            dng = write_dng(work / f"{sensor_name}_{light_name}.dng".replace(" ", "_").replace("#", ""), mosaic,
                            matrix, neutral)
            images = {"LibRaw": libraw(dng)}
            for name, (runner, settings) in subjects.items():
                images[name] = develop(dng, runner, settings, work / "out")
            scores = {name: measure(image, reference_lab) for name, image in images.items()}
            results.append({"sensor": sensor_name, "light": light_name, "scores": scores})
            pictures.append((f"{sensor_name}, {light_name}", images))
            line = "  ".join(f"{n}: {s['chroma_hue_mean']:.2f}" for n, s in scores.items())
            print(f"{sensor_name} / {light_name} ({time.perf_counter() - start:.1f} s): {line}", flush=True)
        picture(pictures, RESULTS / "colour_checker.png")
    return {"weights": weights or "default (best shipped)", "captures": results}


def markdown(result: dict[str, Any]) -> list[str]:
    names = list(result["captures"][0]["scores"])
    lines = ["# ColorChecker on spectral cameras: mean CIEDE2000, chroma + hue (lightness removed)", "",
             "`python benchmarks/colour_checker.py`; lower is better; **bold**: the best of isplab default and "
             "LibRaw. Picture: `colour_checker.png`.", "",
             "| sensor | light | " + " | ".join(names) + " |", "|---|---|" + "---:|" * len(names)]
    wins = 0
    for c in result["captures"]:
        s = c["scores"]
        best = min(s["isplab default"]["chroma_hue_mean"], s["LibRaw"]["chroma_hue_mean"])
        wins += s["isplab default"]["chroma_hue_mean"] <= s["LibRaw"]["chroma_hue_mean"]
        cells = [(f"**{v['chroma_hue_mean']:.2f}**" if n in ("isplab default", "LibRaw")
                  and v["chroma_hue_mean"] == best else f"{v['chroma_hue_mean']:.2f}") for n, v in s.items()]
        lines.append(f"| {c['sensor']} | {c['light']} | " + " | ".join(cells) + " |")
    lines += ["", f"isplab default no worse than LibRaw on {wins} of {len(result['captures'])} captures.", "",
              "Max chroma+hue error / full CIEDE2000 / grey-patch C*ab per capture:", "",
              "| sensor | light | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for c in result["captures"]:
        cells = [f"{v['chroma_hue_max']:.1f} / {v['de2000_mean']:.1f} / {v['grey_chroma']:.1f}"
                 for v in c["scores"].values()]
        lines.append(f"| {c['sensor']} | {c['light']} | " + " | ".join(cells) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--extended", action="store_true", help="also parametric sensors under more lights")
    parser.add_argument("--methods", action="store_true", help="also the default model with --colour-method dng/camera")
    parser.add_argument("--weights", help="weights of the 'isplab default' row (default: what develop picks)")
    args = parser.parse_args(argv)
    result = run(args.extended, args.methods, args.weights)
    write_results("colour_checker", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
