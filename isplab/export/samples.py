"""Parity inputs: packed ``(4, h, w)`` float32 in [0, 1], fitted to the exported model's input size.

* raw frames (:func:`raw_frame_samples`, e.g. real captures the caller read with
  :func:`isplab.raw.readers.read_raw`): packed first, then centre cropped or reflect padded *in packed
  space*, so the Bayer phase never shifts;
* dataset patches with their targets (:func:`dataset_samples`), fitted the same way;
* deterministic synthetic raws (:func:`synthetic_samples`).

Which frames to use is the caller's choice: the package never looks outside itself for data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from isplab.raw.readers import RawImage


@dataclass
class Sample:
    """One packed input ``(4, h, w)``, its optional target ``(3, 2h, 2w)`` and valid box ``(y0, y1, x0, x1)``
    in packed pixels."""

    name: str
    packed: np.ndarray
    target: np.ndarray | None = None
    valid: tuple[int, int, int, int] | None = None


def fit_packed(packed: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Centre-crop or reflect-pad packed ``(C, h, w)`` to ``size``; return it and the valid box."""
    out, box = packed, [0, size[0], 0, size[1]]
    pads = []
    for axis, want in ((1, size[0]), (2, size[1])):
        have = out.shape[axis]
        if have >= want:
            start = (have - want) // 2
            out = out.take(range(start, start + want), axis=axis)
            pads.append((0, 0))
        else:
            before = (want - have) // 2
            pads.append((before, want - have - before))
            box[2 * (axis - 1)], box[2 * (axis - 1) + 1] = before, before + have
    if any(p != (0, 0) for p in pads):
        out = np.pad(out, [(0, 0), *pads], mode="reflect")
    return np.ascontiguousarray(out, dtype=np.float32), tuple(box)  # type: ignore[return-value]


def _fit_target(target: np.ndarray, packed_shape: tuple[int, int], size: tuple[int, int],
                box: tuple[int, int, int, int]) -> np.ndarray:
    """Crop ``target`` (3, 2h, 2w) like :func:`fit_packed` cropped its raw; padded areas are left out."""
    y0 = max(packed_shape[0] - size[0], 0) // 2 * 2
    x0 = max(packed_shape[1] - size[1], 0) // 2 * 2
    h, w = box[1] - box[0], box[3] - box[2]
    return np.ascontiguousarray(target[:, y0:y0 + 2 * h, x0:x0 + 2 * w], dtype=np.float32)


def synthetic_samples(size: tuple[int, int], n: int = 2, seed: int = 0) -> list[Sample]:
    """Deterministic raw-like inputs: smooth colour fields with edges and noise, mostly dark like raw data."""
    rng = np.random.default_rng(seed)
    h, w = size
    yy, xx = np.meshgrid(np.linspace(0, 1, h, dtype=np.float32), np.linspace(0, 1, w, dtype=np.float32),
                         indexing="ij")
    out = []
    for i in range(n):
        planes = []
        for c in range(4):
            f = rng.uniform(1, 6, size=2)
            base = 0.25 + 0.2 * np.sin(2 * np.pi * (f[0] * yy + f[1] * xx) + rng.uniform(0, 6.3))
            base = base * (0.5 + 0.5 * (xx > rng.uniform(0.2, 0.8)))  # a hard edge
            planes.append(base * (0.6 if c in (0, 2) else 1.0))
        raw = np.stack(planes) + rng.normal(0, 0.02, size=(4, h, w))
        out.append(Sample(f"synthetic-{i}", np.clip(raw, 0, 1).astype(np.float32)))
    return out


def raw_frame_samples(frames: Iterable[tuple[str, RawImage]], size: tuple[int, int]) -> list[Sample]:
    """``(name, frame)`` pairs -> samples: each frame packed (canonical order, normalised and clipped to
    [0, 1], the range the parity budgets and int8 calibration assume), then fitted to ``size`` (packed
    pixels) with its valid box."""
    out = []
    for name, image in frames:
        packed, box = fit_packed(image.packed(clip=True), size)
        out.append(Sample(name, packed, valid=box))
    return out


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


def dataset_samples(items: Iterable, size: tuple[int, int], limit: int | None = None) -> list[Sample]:
    """Samples from packed arrays or ``(packed, target)`` pairs (numpy or torch), fitted to ``size``."""
    out = []
    for i, item in enumerate(items):
        if limit is not None and i >= limit:
            break
        packed, target = (item[0], item[1]) if isinstance(item, tuple | list) else (item, None)
        packed = _numpy(packed)
        fitted, box = fit_packed(packed, size)
        tgt = None if target is None else _fit_target(_numpy(target), packed.shape[1:], size, box)
        out.append(Sample(f"data-{i}", fitted, tgt, box))
    return out


def packed_nhwc(items: Iterable, size: tuple[int, int]) -> list[np.ndarray]:
    """NHWC ``(1, H, W, 4)`` arrays from packed arrays / ``(packed, target)`` pairs, fitted to ``size``
    (the int8 calibration set)."""
    out = []
    for item in items:
        packed = _numpy(item[0] if isinstance(item, tuple | list) else item)
        out.append(fit_packed(packed, size)[0].transpose(1, 2, 0)[None])
    return out
