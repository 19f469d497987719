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
all tiles sum to 1 everywhere, so do the 2-D ones and no normalisation buffer is needed.

Streaming: :func:`tiled_bands` runs the tiles row by row and yields each band of output rows as soon as no
later tile touches it, so a writer can encode the top of the picture before the bottom is computed; it
holds one tile row of output (``(2 th, 2W, 3)`` float32, channels last: the layout of a LiteRT output
and of the picture's bytes, so nothing is transposed on the way to the file) plus one tile's activations.
:func:`run_tiled` collects the bands into the whole frame. A tile only touches the output where its weight
is non-zero, and multiplies only where the weight is below 1 (the blend zones): the sums are those of
weighting every tile everywhere, bit for bit, at a fraction of the memory traffic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Runner(Protocol):
    """A model on one tile: packed ``(1, 4, th, tw)`` float32 -> RGB ``(1, 3, 2th, 2tw)`` float32."""

    #: the only input size ``(th, tw)`` the backend accepts, or ``None`` when any size works
    fixed_size: tuple[int, int] | None
    #: a short human name for metadata and reports
    name: str

    def __call__(self, tile: np.ndarray) -> np.ndarray:
        """``tile`` is a view into the packed frame (any strides) that neighbouring tiles share: read it, never
        write into it. The output may be a view into the backend's memory (a LiteRT output buffer), valid
        until the next call: callers use it at once and drop it."""
        ...


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


def _span(weights: np.ndarray, value: float) -> tuple[int, int]:
    """``[first, last + 1)`` of the entries of ``weights`` (a per-axis tile weight) above / equal to ``value``."""
    idx = np.flatnonzero(weights == 1) if value == 1 else np.flatnonzero(weights > 0)
    return (int(idx[0]), int(idx[-1]) + 1) if idx.size else (0, 0)


def _blend(band: np.ndarray, result: np.ndarray, wy: np.ndarray, wx: np.ndarray, x0: int) -> None:
    """``band[:, x0:] += result * (wy x wx)`` (both ``(rows, cols, 3)``) where the weight is non-zero: copied
    where it is 1, weighted in the strips around (a weight of exactly 0 or 1 leaves the sum as the full
    product would)."""
    (ay, by), (cy, dy) = _span(wy, 0), _span(wy, 1)
    (ax, bx), (cx, dx) = _span(wx, 0), _span(wx, 1)
    band[cy:dy, x0 + cx:x0 + dx] = result[cy:dy, cx:dx]  # alone there: every other tile weighs 0
    for (r0, r1), (c0, c1) in (((ay, cy), (ax, bx)), ((dy, by), (ax, bx)), ((cy, dy), (ax, cx)), ((cy, dy), (dx, bx))):
        if r1 > r0 and c1 > c0:
            band[r0:r1, x0 + c0:x0 + c1] += result[r0:r1, c0:c1] * (wy[r0:r1, None, None] * wx[None, c0:c1, None])


def tiled_bands(
    packed: np.ndarray,
    runner: Runner,
    tile: tuple[int, int] | int = 512,
    overlap: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Run ``runner`` over packed ``(4, h, w)`` tile by tile; yield ``(y0, band)`` with ``band`` the final
    blended output rows ``y0 .. y0 + len`` as ``(rows, 2w, 3)`` float32 (channels last), top to bottom,
    covering ``2h`` rows.
    ``band`` is a view into a buffer the next tile row reuses: use (or copy) it before asking for the next.

    A fixed-size runner forces ``tile = runner.fixed_size``. ``progress(done, total)`` is called per tile.
    """
    if packed.ndim != 3 or packed.shape[0] != 4:
        raise ValueError(f"packed raw must be (4, h, w), got shape {packed.shape}")
    fixed = runner.fixed_size is not None
    size = runner.fixed_size if fixed else ((tile, tile) if isinstance(tile, int) else tuple(tile))
    h, w = packed.shape[1:]
    plan = plan_tiles((h, w), size, overlap, fixed)
    col_weights = [plan.cols.weights(j) for j in range(len(plan.cols.starts))]
    rows = plan.rows.starts
    band = np.zeros((2 * plan.rows.size, 2 * w, 3), dtype=np.float32)  # output rows from 2 * rows[i]
    done = 0
    for i, y in enumerate(rows):
        wy = plan.rows.weights(i)
        th = min(plan.rows.size, h - y)
        for j, x in enumerate(plan.cols.starts):
            tw = min(plan.cols.size, w - x)
            crop = packed[None, :, y:y + th, x:x + tw].astype(np.float32, copy=False)
            result = runner(_reflect_to(crop, (plan.rows.size, plan.cols.size)))
            if result.shape[:2] != (1, 3) or result.shape[2] < 2 * th or result.shape[3] < 2 * tw:
                raise ValueError(f"{runner.name}: a {crop.shape} tile gave output {result.shape}, "
                                 "expected (1, 3, 2h, 2w)")
            _blend(band, result[0, :, :2 * th, :2 * tw].transpose(1, 2, 0), wy[:2 * th], col_weights[j][:2 * tw], 2 * x)
            del result  # may be a view of the runner's buffer, which the next tile overwrites
            done += 1
            if progress is not None:
                progress(done, plan.count)
        final = 2 * (rows[i + 1] - y) if i + 1 < len(rows) else 2 * th  # rows no later tile touches
        yield 2 * y, band[:final]
        band[:band.shape[0] - final] = band[final:]
        band[band.shape[0] - final:] = 0


def run_tiled(
    packed: np.ndarray,
    runner: Runner,
    tile: tuple[int, int] | int = 512,
    overlap: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """:func:`tiled_bands` collected into blended RGB ``(3, 2h, 2w)`` float32."""
    out = np.empty((3, 2 * packed.shape[1], 2 * packed.shape[2]), dtype=np.float32)
    for y0, rows in tiled_bands(packed, runner, tile, overlap, progress):
        out[:, y0:y0 + rows.shape[0]] = rows.transpose(2, 0, 1)
    return out
