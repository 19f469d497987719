"""Which camera -> XYZ estimate to use without a ForwardMatrix: the colour methods, without a network.

For spectral cameras (the two NPL-measured sensors and 30 parametric ones of a held-out seed) under 12
lights, the ColorChecker's camera RGB (white balanced by the true as-shot neutral, no noise) goes to XYZ
(D65) through each method of :func:`isplab.raw.dng.balanced_to_xyz`, with the "maker's" ColorMatrix
calibrated under D65 only (as the benchmark DNGs and many phone DNGs carry), and is scored like
``benchmarks/colour_checker.py``: mean CIEDE2000 with lightness removed, per capture. ``camera`` is what
LibRaw computes from such a file; ``dng`` is the DNG specification's; ``mixed`` (isplab's default) their mean.
Reported: the mean, the 90th percentile and how often each is worse than ``camera`` (by > 0.05).

    python benchmarks/colour_methods.py
"""

from __future__ import annotations

import sys

import numpy as np
from _results import write_results

from isplab.colorimetry import D50_XY, D65_XY, chromatic_adaptation, xy_to_xyz
from isplab.data.spectral import SpectralData
from isplab.raw.dng import COLOUR_METHODS, balanced_to_xyz

LIGHTS = ("D65", "D50", "D75", "A", "FL2", "FL4", "FL7", "FL11", "LED-B1", "LED-B3", "LED-V1")
PARAMETRIC, SEED = 30, 99


def score(xyz: np.ndarray, reference_lab: np.ndarray) -> float:
    from skimage.color import xyz2lab

    from isplab.camera.colorchecker import chroma_hue_error

    xyz = xyz * (0.9 / xyz[18, 1])  # the white patch at its reference luminance
    return float(chroma_hue_error(xyz2lab(np.clip(xyz, 1e-9, None), "D65"), reference_lab).mean())


def main() -> int:
    from skimage.color import xyz2lab

    data = SpectralData()
    chart = data.colour_checker()
    d65 = data.light_named("D65")
    reference_lab = xyz2lab((chart * d65) @ data.cmfs / (d65 @ data.cmfs[:, 1]), "D65")
    to_d65 = chromatic_adaptation(xy_to_xyz(D50_XY), xy_to_xyz(D65_XY))
    rng = np.random.default_rng(SEED)
    sensors = {"Nikon D5100 (NPL)": data.measured_sensor("Nikon 5100 (NPL)"),
               "Sigma SD Merrill (NPL)": data.measured_sensor("Sigma SDMerill (NPL)")}
    sensors.update({f"parametric {i}": data.parametric_sensor(rng) for i in range(PARAMETRIC)})
    lights = {name: data.light_named(name) for name in LIGHTS}
    lights["Planck 3000 K"] = data.colour.sd_blackbody(3000, data.shape).values
    rows = []
    for sensor_name, sensor in sensors.items():
        matrix = data.calibrate(sensor, d65)
        for light_name, light in lights.items():
            camera = (chart * light) @ sensor
            neutral = light @ sensor
            neutral = neutral / neutral[1]
            errors = {m: score((camera / neutral) @ (to_d65 @ balanced_to_xyz(matrix, neutral, method=m)).T,
                               reference_lab) for m in COLOUR_METHODS}
            rows.append({"sensor": sensor_name, "light": light_name, **{m: round(e, 3) for m, e in errors.items()}})
    camera = np.array([r["camera"] for r in rows])
    summary = {m: {"mean": float(np.mean([r[m] for r in rows])),
                   "p90": float(np.percentile([r[m] for r in rows], 90)),
                   "worse_than_camera": int(np.sum(np.array([r[m] for r in rows]) > camera + 0.05))}
               for m in COLOUR_METHODS}
    lines = ["# Colour methods on spectral cameras (no network): mean CIEDE2000, chroma + hue", "",
             f"`python benchmarks/colour_methods.py`: {len(sensors)} sensors x {len(lights)} lights = {len(rows)} "
             "captures of the ColorChecker, ColorMatrix calibrated under D65 only.", "",
             "| method | mean | 90th percentile | worse than `camera` (LibRaw's) |", "|---|---:|---:|---:|"]
    lines += [f"| `{m}` | {s['mean']:.2f} | {s['p90']:.2f} | {s['worse_than_camera']} of {len(rows)} |"
              for m, s in summary.items()]
    lines += ["", "The two measured sensors:", "", "| sensor | light | " + " | ".join(COLOUR_METHODS) + " |",
              "|---|---|" + "---:|" * len(COLOUR_METHODS)]
    lines += [f"| {r['sensor']} | {r['light']} | " + " | ".join(f"{r[m]:.2f}" for m in COLOUR_METHODS) + " |"
              for r in rows if "NPL" in r["sensor"] and r["light"] in ("D65", "A", "FL2", "FL11", "LED-B3")]
    write_results("colour_methods", {"summary": summary, "captures": rows}, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
