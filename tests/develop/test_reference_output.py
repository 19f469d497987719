"""``develop`` output is unchanged by the speed work: the real Full-HD frame through the official MicroISP file
(and through isplab's optimised export of its weights) stays within 1/255 of the pinned reference path below,
which reproduces the development of 2026-12 (before streaming, the shared LiteRT runner and the optimiser)
bit for bit."""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isplab.develop.pipeline import DevelopSettings, develop_file
from isplab.develop.runners import load_runner
from isplab.raw.readers import read_raw

RAW = ("data", "real-raw", "fast-openisp-test-1920x1080-rggb-10bit.raw")
MICROISP = ("peers", "microisp-official", "MicroISP.tflite")
GEOMETRY = {"width": 1920, "height": 1080, "white": 1020}


def reference_develop(packed: np.ndarray, tflite, tile: int = 256, overlap: int = 32) -> np.ndarray:
    """The pinned path: even tile starts, a raised-cosine hand-over in the middle half of each overlap, one
    interpreter resized to the tile, numpy blending. ``packed (4, h, w)`` -> RGB ``(3, 2h, 2w)`` float32."""
    from ai_edge_litert.interpreter import Interpreter

    def starts(length):
        size = min(tile, length)
        if length <= size:
            return size, [0]
        count = max(math.ceil((length - overlap) / (size - overlap)), 2)
        return size, [int(s) for s in np.floor(np.linspace(0, length - size, count))]

    def weights(size, st, i):
        pos = (np.arange(2 * size, dtype=np.float64) + 0.5) / 2 + st[i]
        w, half = np.ones(2 * size), overlap / 4

        def ramp(mid):
            return 0.5 - 0.5 * np.cos(np.pi * np.clip((pos - (mid - half)) / (2 * half), 0, 1))

        if i > 0:
            w *= ramp((st[i] + st[i - 1] + size) / 2)
        if i < len(st) - 1:
            w *= 1 - ramp((st[i + 1] + st[i] + size) / 2)
        return w.astype(np.float32)

    h, w = packed.shape[1:]
    (th, rows), (tw, cols) = starts(h), starts(w)
    interp = Interpreter(model_path=str(tflite), num_threads=2)
    inp, outp = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.resize_tensor_input(inp["index"], [1, th, tw, 4], strict=False)
    interp.allocate_tensors()
    out = np.zeros((3, 2 * h, 2 * w), np.float32)
    for i, y in enumerate(rows):
        for j, x in enumerate(cols):
            tile_in = packed[:, y:y + th, x:x + tw].transpose(1, 2, 0)[None]
            interp.set_tensor(inp["index"], np.ascontiguousarray(tile_in))
            interp.invoke()
            rgb = interp.get_tensor(outp["index"])[0].transpose(2, 0, 1)
            out[:, 2 * y:2 * (y + th), 2 * x:2 * (x + tw)] += rgb * (weights(th, rows, i)[:, None]
                                                                     * weights(tw, cols, j)[None])
    return out


@functools.cache
def _reference_png(raw: Path, official: Path) -> np.ndarray:
    rgb = reference_develop(read_raw(raw, **GEOMETRY).packed(), official)
    return (np.clip(rgb, 0, 1).transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


@pytest.fixture
def reference(shared_file):
    raw, official = shared_file(*RAW), shared_file(*MICROISP)
    return raw, official, _reference_png(raw, official)


def _developed(raw, weights, out_dir, resize=True) -> np.ndarray:
    path = develop_file(raw, load_runner(weights, resize=resize), out_dir, DevelopSettings(read_options=GEOMETRY))
    with Image.open(path) as im:
        return np.asarray(im).astype(int)


def test_official_file_develops_as_before(reference, tmp_path):
    raw, official, expected = reference
    assert np.abs(_developed(raw, official, tmp_path) - expected).max() <= 1


def test_optimised_export_develops_as_before(reference, tmp_path):
    from isplab.export import export_tflite, load_tflite_model

    raw, official, expected = reference
    path = tmp_path / "microisp-256.tflite"
    report = export_tflite(load_tflite_model("microisp", official), path, input_size=(256, 256))
    assert report.rewrites  # the optimised graph, built for 256x256 tiles
    assert np.abs(_developed(raw, path, tmp_path / "out", resize=False) - expected).max() <= 1
