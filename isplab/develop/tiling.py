"""Tiled inference over a packed raw frame with overlap and seam-free blending.

Geometry (all sizes in *packed* pixels, the model's input grid; outputs are 2x that):

* Tiles of ``tile = (th, tw)`` are spread evenly so that neighbours overlap by at least ``overlap``; the
  first tile starts at 0 and the last ends at the frame edge, so every tile lies fully inside the frame
  (a frame smaller than a *fixed* tile size is reflect-padded up to it; a resizable backend just gets
  the smaller tile).
* Between two neighbours the blend zone is the **middle half** of their overlap, centred on its midpoint,
  ``overlap / 2`` wide: a raised-cosine ramp hands over from one tile to the next, weights summing to 1.
  Outside the blend zones a pixel comes from one tile alone.
* **Exactness rule**: each tile contributes only at least ``overlap / 4`` pixels away from its inner
  edges, so a model whose receptive-field radius is ``<= overlap / 4`` packed pixels gives the same
  output tiled as whole-frame (float rounding aside). Models with a global term (MicroISP's attention
  gates average over the whole input) are never exact; the blend hides the per-tile differences.

The 2-D weight of a tile is the outer product of its per-axis weights; because the per-axis weights of
all tiles sum to 1 everywhere, so do the 2-D ones and no normalisation buffer is needed. Peak memory is
the output frame ``(3, 2H, 2W)`` float32 plus one tile's activations.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Runner(Protocol):
    """A model on one tile: packed ``(1, 4, th, tw)`` float32 -> RGB ``(1, 3, 2th, 2tw)`` float32."""

    #: the only input size ``(th, tw)`` the backend accepts, or ``None`` when any size works
    fixed_size: tuple[int, int] | None
    #: a short human name for metadata and reports
    name: str

    def __call__(self, tile: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class AxisPlan:
    """Tiles along one axis: ``starts`` of tiles of ``size`` over a frame of ``length`` (packed pixels)."""

    length: int
    size: int
    starts: tuple[int, ...]
    overlap: int

    def weights(self, index: int, scale: int = 2) -> np.ndarray:
        """Blend weight ``(scale * size,)`` of tile ``index`` on the output grid (``scale`` x packed)."""
        n = self.size * scale
        pos = (np.arange(n, dtype=np.float64) + 0.5) / scale + self.starts[index]  # packed coordinates
        w = np.ones(n, dtype=np.float64)
        half = self.overlap / 4  # half-width of the blend zone
        if index > 0:  # hand-over from the previous tile
            w *= _ramp(pos, (self.starts[index] + self.starts[index - 1] + self.size) / 2, half)
        if index < len(self.starts) - 1:  # hand-over to the next tile
            w *= 1 - _ramp(pos, (self.starts[index + 1] + self.starts[index] + self.size) / 2, half)
        return w.astype(np.float32)


def _ramp(pos: np.ndarray, mid: float, half: float) -> np.ndarray:
    """Raised cosine from 0 at ``mid - half`` to 1 at ``mid + half`` (a step at ``mid`` when ``half`` is 0);
    symmetric about ``mid``, so a ramp up plus the mirrored ramp down is 1 everywhere."""
    if half <= 0:
        return (pos >= mid).astype(np.float64)
    t = np.clip((pos - (mid - half)) / (2 * half), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * t)


def plan_axis(length: int, size: int, overlap: int) -> AxisPlan:
    """Even tile starts along an axis: first at 0, last at ``length - size``, neighbours overlapping by
    ``>= overlap``. A frame shorter than ``size`` is one tile of ``size`` (the caller pads)."""
    if size <= 0 or overlap < 0:
        raise ValueError(f"tile size must be positive and overlap >= 0, got {size} and {overlap}")
    if length <= size:
        return AxisPlan(length, size, (0,), overlap)
    if size < 2 * overlap:
        raise ValueError(f"tile {size} must be at least twice the overlap {overlap}")
    count = math.ceil((length - overlap) / (size - overlap))
    count = max(count, 2)
    # floor keeps every step <= size - overlap (an integer), so no overlap shrinks below the nominal one
    starts = np.floor(np.linspace(0, length - size, count)).astype(int)
    return AxisPlan(length, size, tuple(int(s) for s in starts), overlap)


@dataclass(frozen=True)
class TilePlan:
    """The tile grid of one frame: per-axis plans for rows and columns."""

    rows: AxisPlan
    cols: AxisPlan

    @property
    def count(self) -> int:
        return len(self.rows.starts) * len(self.cols.starts)


def plan_tiles(shape: tuple[int, int], tile: tuple[int, int], overlap: int, fixed: bool = False) -> TilePlan:
    """Plan tiles of ``tile = (th, tw)`` over a packed frame ``shape = (h, w)``.

    A resizable backend (``fixed`` false) gets tiles no larger than the frame.
    """
    (h, w), (th, tw) = shape, tile
    if not fixed:
        th, tw = min(th, h), min(tw, w)
    return TilePlan(plan_axis(h, th, overlap), plan_axis(w, tw, overlap))


def _reflect_to(tile: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Reflect-pad ``(1, 4, h, w)`` at the bottom/right up to ``size`` (no-op when already there)."""
    ph, pw = size[0] - tile.shape[2], size[1] - tile.shape[3]
    if ph <= 0 and pw <= 0:
        return tile
    mode = "reflect" if min(tile.shape[2:]) > 1 else "edge"
    return np.pad(tile, [(0, 0), (0, 0), (0, max(ph, 0)), (0, max(pw, 0))], mode=mode)


def run_tiled(
    packed: np.ndarray,
    runner: Runner,
    tile: tuple[int, int] | int = 512,
    overlap: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Run ``runner`` over packed ``(4, h, w)`` tile by tile; returns blended RGB ``(3, 2h, 2w)`` float32.

    A fixed-size runner forces ``tile = runner.fixed_size``. ``progress(done, total)`` is called per tile.
    """
    if packed.ndim != 3 or packed.shape[0] != 4:
        raise ValueError(f"packed raw must be (4, h, w), got shape {packed.shape}")
    fixed = runner.fixed_size is not None
    size = runner.fixed_size if fixed else ((tile, tile) if isinstance(tile, int) else tuple(tile))
    h, w = packed.shape[1:]
    plan = plan_tiles((h, w), size, overlap, fixed)
    out = np.zeros((3, 2 * h, 2 * w), dtype=np.float32)
    done = 0
    for i, y in enumerate(plan.rows.starts):
        wy = plan.rows.weights(i)
        for j, x in enumerate(plan.cols.starts):
            th, tw = min(plan.rows.size, h - y), min(plan.cols.size, w - x)
            crop = packed[None, :, y:y + th, x:x + tw].astype(np.float32, copy=False)
            result = runner(np.ascontiguousarray(_reflect_to(crop, (plan.rows.size, plan.cols.size))))
            if result.shape[:2] != (1, 3) or result.shape[2] < 2 * th or result.shape[3] < 2 * tw:
                raise ValueError(f"{runner.name}: a {crop.shape} tile gave output {result.shape}, "
                                 "expected (1, 3, 2h, 2w)")
            weight = wy[:2 * th, None] * plan.cols.weights(j)[None, :2 * tw]
            out[:, 2 * y:2 * (y + th), 2 * x:2 * (x + tw)] += result[0, :, :2 * th, :2 * tw] * weight
            done += 1
            if progress is not None:
                progress(done, plan.count)
    return out
