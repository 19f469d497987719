"""Grey-patch neutrality on a real test chart: mean / max CIELAB chroma of its 18 grey patches per ISP.

The frame is fast-openISP's test chart (``shared/data/real-raw/``, 1920x1080 RGGB, 10-bit), a sensor none
of the models has seen; the patches and the measurement are :mod:`isplab.camera.chart` (mean sRGB of a
box inside each patch -> CIELAB -> ``C*ab``; 0 = grey). Rows:

* the classical ISP as ``isplab develop --weights classic`` runs it (grey-world gains from the whole frame);
* the official MicroISP weights (``shared/peers/microisp-official/MicroISP.tflite``, imported as
  ``isplab import microisp`` does) and isplab's shipped ``pretrained:microisp`` and ``pretrained:smallnet``:
  without the adapter (``raw.packed()``: raw / 1020, what the models were trained on) and with it
  (:func:`isplab.camera.adapt_frame` into the model's raw domain, the frame's neutral by grey-world,
  grey-edge and white-patch). Where a model's raw domain has no neutral, it is calibrated in memory
  (:func:`isplab.camera.calibrate.find_neutral`, as ``isplab calibrate`` does; no weight file is changed).
  The official model also runs in ``ULTRAISP_MAI_DOMAIN`` (its training data: raw / 1020 with the Sony
  IMX586 black pedestal left in), which ``isplab import`` does not record.

Models run tiled as ``isplab develop`` runs them (PyTorch, tile 512, overlap 32 packed pixels). Writes
``benchmarks/results/real_chart.{json,md}`` and ``real_chart.png`` (every rendering, downscaled, boxes
drawn). Missing shipped weights are skipped (and said so).

    python benchmarks/real_chart.py
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _results import RESULTS, write_results
from PIL import Image, ImageDraw

from isplab.camera import ULTRAISP_MAI_DOMAIN, RawDomain, adapt_frame
from isplab.camera.chart import CHART_FILE, grey_patch_chroma, patch_boxes, read_chart

SHARED = Path(__file__).resolve().parents[2] / "shared"
FRAME = SHARED / "data" / "real-raw" / CHART_FILE
OFFICIAL = SHARED / "peers" / "microisp-official" / "MicroISP.tflite"
PRETRAINED = ("microisp", "smallnet")
NEUTRALS = ("grey-world", "grey-edge", "white-patch")
GOAL = 5.0  #: mean C*ab (issue 11)
TILE, OVERLAP = 512, 32
PANEL_W, COLUMNS = 400, 4  #: the PNG: 4 panels of 400 px a row


@dataclass
class Subject:
    """A model to run: its row name, weights, the raw domain the adapter maps into, and how it was found."""

    name: str
    weights: str
    model: Any
    domain: RawDomain
    calibration: dict[str, Any] | None
    plain: bool = True  #: also run without the adapter


def calibrated(model: Any, model_name: str, domain: RawDomain) -> tuple[RawDomain, dict[str, Any] | None]:
    """``domain`` with the model's neutral: as stored, else found in memory (as ``isplab calibrate``)."""
    if domain.neutral is not None:
        return domain, None
    from isplab.camera.calibrate import find_neutral
    from isplab.models.registry import model_entry

    entry = model_entry(model_name)
    size = -(-max(32, entry.min_input) // entry.input_multiple) * entry.input_multiple
    t = time.perf_counter()
    result = find_neutral(model, domain, size=size)
    print(f"calibrated {model_name} ({domain.camera}): neutral {np.round(result.neutral, 3).tolist()} "
          f"in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return domain.with_neutral(result.neutral), result.to_dict()


def subjects() -> tuple[list[Subject], list[str]]:
    """The official and the shipped models (calibrated); names of shipped weights that are missing."""
    from isplab.export.tflite_weights import load_tflite_model
    from isplab.models.weights import has_pretrained, load_model_from_checkpoint, raw_domain
    from isplab.models.weights import model_checkpoint as checkpoint

    official = load_tflite_model("microisp", OFFICIAL)
    imported = raw_domain(checkpoint("microisp", {}, official))  # what `isplab import microisp` stores
    # The MAI-domain variant differs only in the adapter's target: its plain row would repeat the first.
    found = [("official MicroISP", OFFICIAL.name, official, "microisp", imported, True),
             ("official MicroISP, MAI domain", OFFICIAL.name, official, "microisp", ULTRAISP_MAI_DOMAIN, False)]
    missing = []
    for name in PRETRAINED:
        if not has_pretrained(name):
            missing.append(name)
            continue
        model, state = load_model_from_checkpoint(f"pretrained:{name}")
        found.append((f"isplab {name}", f"pretrained:{name}", model, state["model_name"], raw_domain(state), True))
    out = [Subject(label, weights, model, *calibrated(model, model_name, domain), plain)
           for label, weights, model, model_name, domain, plain in found]
    return out, missing


def develop(packed: np.ndarray, runner: Any) -> np.ndarray:
    """Tiled rendering as ``isplab develop`` does it -> sRGB ``(H, W, 3)`` float32 clipped to [0, 1]."""
    from isplab.develop.tiling import run_tiled

    return np.clip(run_tiled(packed, runner, TILE, OVERLAP), 0.0, 1.0).transpose(1, 2, 0)


def measure(raw: Any) -> tuple[list[dict[str, Any]], list[np.ndarray], list[str]]:
    """Every row (with its rendering) and the missing shipped weights."""
    from isplab.develop.torch_runners import ClassicRunner, TorchRunner

    packed = raw.packed()
    rows: list[dict[str, Any]] = []
    images: list[np.ndarray] = []

    def add(rgb: np.ndarray, **row: Any) -> None:
        rows.append({**row, **grey_patch_chroma(rgb)})
        images.append(rgb)
        r = rows[-1]
        print(f"{r['isp']:32s} {r['input']:8s} {r['neutral']:12s} mean C*ab {r['mean_chroma']:5.1f} "
              f"max {r['max_chroma']:5.1f} L* {r['mean_L']:5.1f}", file=sys.stderr)

    classic = ClassicRunner().for_image(raw, packed)
    add(develop(packed, classic), isp="classical ISP", weights="classic", input="raw/1020", neutral="grey-world",
        domain=None, calibration=None, adapt=None)
    found, missing = subjects()
    for s in found:
        runner = TorchRunner(s.model, s.name)
        common = {"isp": s.name, "weights": s.weights, "domain": s.domain.to_dict(), "calibration": s.calibration}
        if s.plain:
            add(develop(packed, runner), **common, input="raw/1020", neutral="—", adapt=None)
        for method in NEUTRALS:
            x, record = adapt_frame(raw, s.domain, neutral=method)
            add(develop(x, runner), **common, input="adapter", neutral=method, adapt=record.to_dict())
    return rows, images, missing


def panels(images: Sequence[np.ndarray], rows: Sequence[dict[str, Any]]) -> Image.Image:
    """Every rendering at ``PANEL_W`` px wide with its patch boxes and a label, ``COLUMNS`` a row."""
    h, w = images[0].shape[:2]
    ph = round(h * PANEL_W / w)
    grid = Image.new("RGB", (PANEL_W * COLUMNS, ph * -(-len(images) // COLUMNS)), "white")
    for i, (rgb, row) in enumerate(zip(images, rows, strict=True)):
        tile = Image.fromarray((rgb * 255 + 0.5).astype(np.uint8)).resize((PANEL_W, ph), Image.Resampling.LANCZOS)
        draw = ImageDraw.Draw(tile)
        for y0, y1, x0, x1 in patch_boxes((ph, PANEL_W)):
            draw.rectangle([x0, y0, x1, y1], outline=(255, 0, 0))
        label = f"{row['isp']}, {row['input']}" + (f" {row['neutral']}" if row["input"] == "adapter" else "")
        draw.rectangle([0, 0, PANEL_W, 24], fill=(0, 0, 0))
        draw.text((4, 1), label, fill=(255, 255, 255))
        draw.text((4, 12), f"C*ab mean {row['mean_chroma']:.1f} max {row['max_chroma']:.1f}", fill=(255, 255, 0))
        grid.paste(tile, ((i % COLUMNS) * PANEL_W, (i // COLUMNS) * ph))
    return grid


def render(results: dict[str, Any]) -> str:
    lines = ["# Grey patches of a real test chart: how neutral each ISP renders them", "",
             f"Frame: fast-openISP's test chart (`shared/data/real-raw/{CHART_FILE}`), a sensor no model has "
             "seen. Per grey patch (the 18 brightest unclipped of its 36-step grey ring, `isplab.camera.chart`): "
             "mean sRGB of a 40x40 box -> CIELAB (D65) -> C*ab; 0 is grey, "
             f"goal mean <= {GOAL:g} (issue 11). Input `raw/1020`: the frame as is; `adapter`: "
             "`isplab.camera.adapt_frame` into the model's raw domain with the frame's neutral by the named "
             "estimator (models without a stored neutral calibrated in memory first). Tiled as `isplab develop` "
             "(tile 512, overlap 32). Renderings: `real_chart.png`.", "",
             "| ISP | input | neutral | mean C*ab | max C*ab | mean L* |", "|---|---|---|---|---|---|"]
    for r in results["rows"]:
        lines.append(f"| {r['isp']} | {r['input']} | {r['neutral']} | {r['mean_chroma']:.1f} | "
                     f"{r['max_chroma']:.1f} | {r['mean_L']:.1f} |")
    cal = {r["isp"]: r["calibration"] for r in results["rows"] if r.get("calibration")}
    if cal:
        lines += ["", "Neutrals calibrated in memory (B, Gr, R, Gb): " + "; ".join(
            f"{k} ({', '.join(f'{v:.3f}' for v in c['neutral'])}; "
            f"{'converged' if c['converged'] else 'not converged'} after {c['iterations']} iterations)"
            for k, c in cal.items())]
    if results["missing"]:
        lines += ["", "Not measured (shipped weights missing): " + ", ".join(results["missing"])]
    return "\n".join(lines) + "\n"


def main() -> int:
    for path in (FRAME, OFFICIAL):
        if not path.is_file():
            sys.exit(f"real_chart: {path} not found; it ships in shared/ beside the repository")
    started = time.time()
    rows, images, missing = measure(read_chart(FRAME))
    results = {"frame": str(FRAME.relative_to(SHARED.parent)), "goal_mean_chroma": GOAL, "rows": rows,
               "missing": missing, "seconds": round(time.time() - started, 1),
               "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started))}
    write_results("real_chart", results, render(results))
    panels(images, rows).save(RESULTS / "real_chart.png", optimize=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
