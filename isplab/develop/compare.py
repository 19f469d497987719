"""Visual comparison report (the MAI 2022 report's Fig. 1): the same 100% crop of one raw frame as raw
data, classical ISP, each model, and the target when the input belongs to a dataset pair.

The report is a self-contained HTML page (images inlined as base64 PNG) with the crops also written as
PNG files beside it (``<report stem>-crops/``). Every panel is developed on the whole frame (tiled), then
cropped, so models with frame-level terms (MicroISP's attention) are shown as they would develop.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from isplab.atomic import check_folder, check_writable, remove_stale_temps, write_atomic, write_text_atomic
from isplab.classic.visualise import raw_visualisation
from isplab.develop.checks import check_picture
from isplab.develop.pipeline import DevelopSettings, check_settings, develop_image, read_frame
from isplab.develop.runners import CLASSIC, load_runner
from isplab.errors import DataError, IsplabError
from isplab.images import to_uint8


@dataclass
class Panel:
    """One column of the report: a label and a ``(3, s, s)`` RGB crop in [0, 1]."""

    label: str
    rgb: np.ndarray


def dataset_target(path: Path) -> Path | None:
    """The target of a dataset raw (``<root>/mediatek_raw/7.png`` -> ``<root>/fujifilm/7.png``), if present."""
    from isplab.data.datasets import LAYOUTS

    for layout in LAYOUTS.values():
        if path.parent.name == layout.raw_dir:
            target = path.parent.parent / layout.target_dir / (path.stem + layout.target_suffix)
            if target.is_file():
                return target
    return None


def crop_box(shape: tuple[int, int], size: int, at: tuple[int, int] | None) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of a ``size``-pixel crop (output grid, even corners so it aligns with the packed
    grid) at ``at = (y, x)`` or centred; clipped to the frame."""
    h, w = shape
    ch, cw = min(size, h), min(size, w)
    y, x = at if at is not None else ((h - ch) // 2, (w - cw) // 2)
    y, x = min(max(y, 0), h - ch) // 2 * 2, min(max(x, 0), w - cw) // 2 * 2
    return y, y + ch, x, x + cw


def check_crop(size: int, at: tuple[int, int] | None) -> None:
    """Fail before any work on a crop that cannot be shown."""
    if size < 2:
        raise IsplabError(f"--crop-size {size}: must be >= 2 output pixels. Omit it for the default 384")
    if at is not None and min(at) < 0:
        raise IsplabError(f"--crop-at {at[0]} {at[1]}: must be >= 0. Give the crop's top-left as Y X in pixels")


def crops_folder(out: str | Path) -> Path:
    """Where the report ``out`` keeps its crops as PNG files: ``<out stem>-crops/`` beside it."""
    out = Path(out)
    return out.parent / f"{out.stem}-crops"


def check_report_paths(out: str | Path) -> Path:
    """Fail before any work if the report or its crops folder cannot be written; clear stale temp files."""
    out = check_writable(out, "report (--out)")
    for folder in (out.parent, check_folder(crops_folder(out), "report's crops (--out)")):
        remove_stale_temps(folder)
    return out


def build_panels(path: str | Path, weights: Sequence[str], size: int = 384, at: tuple[int, int] | None = None,
                 settings: DevelopSettings | None = None, classic: bool = True) -> list[Panel]:
    """Raw visualisation, classical ISP (unless ``classic`` is false), each of ``weights``, target."""
    path, settings = Path(path), check_settings(settings or DevelopSettings())
    check_crop(size, at)
    runners = [load_runner(w) for w in ([CLASSIC] if classic else []) + list(weights)]  # all load before any work
    image = read_frame(path, settings)
    packed = image.packed()
    y0, y1, x0, x1 = crop_box(image.shape, size, at)
    raw = raw_visualisation(torch.from_numpy(packed[:, y0 // 2:(y1 + 1) // 2, x0 // 2:(x1 + 1) // 2])).numpy()
    panels = [Panel("raw (R, mean G, B; gamma 1/2.2)", raw[:, :y1 - y0, :x1 - x0])]
    for runner in runners:
        rgb = check_picture(develop_image(image, runner, settings), path, runner.name, packed)
        panels.append(Panel(runner.name, np.clip(rgb[:, y0:y1, x0:x1], 0, 1)))
    target = dataset_target(path)
    if target is not None:
        with Image.open(target) as im:
            tgt = np.asarray(im.convert("RGB"), dtype=np.float32).transpose(2, 0, 1) / 255
        if tgt.shape[1:] != image.shape:
            raise DataError(target, f"target size {tgt.shape[1:]} differs from the raw's {image.shape}",
                            "pair each raw with its own target")
        panels.append(Panel(f"target ({target.parent.name}/{target.name})", tgt[:, y0:y1, x0:x1]))
    return panels


def _png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(to_uint8(rgb)).save(buffer, "PNG")
    return buffer.getvalue()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "panel"


def write_report(panels: Sequence[Panel], out: str | Path, title: str) -> Path:
    """Write ``out`` (HTML, images inlined) and ``<out stem>-crops/NN-<label>.png``; returns ``out``."""
    out, crops = Path(out), crops_folder(out)
    cells = []
    for i, panel in enumerate(panels):
        data = _png_bytes(panel.rgb)
        write_atomic(crops / f"{i:02d}-{_slug(panel.label)}.png", lambda f, d=data: f.write(d))
        src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        cells.append(f'<figure><img src="{src}" alt="{html.escape(panel.label)}">'
                     f"<figcaption>{html.escape(panel.label)}</figcaption></figure>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:1em}} .row{{display:flex;flex-wrap:wrap;gap:8px}}
figure{{margin:0}} img{{image-rendering:pixelated;display:block}} figcaption{{font-size:13px;max-width:30em}}</style>
</head><body><h1>{html.escape(title)}</h1><p>100% crops (one image pixel per screen pixel).</p>
<div class="row">{''.join(cells)}</div></body></html>
"""
    return write_text_atomic(out, page)


def compare(path: str | Path, weights: Sequence[str], out: str | Path, size: int = 384,
            at: tuple[int, int] | None = None, settings: DevelopSettings | None = None) -> Path:
    """Build the panels of ``path`` and write the report to ``out``."""
    out = check_report_paths(out)
    panels = build_panels(path, weights, size, at, settings)
    return write_report(panels, out, f"isplab compare: {Path(path).name}")
