"""Tiling (isplab.develop.tiling): grid, partition of unity, tiled == whole frame under the overlap rule."""

from __future__ import annotations

import numpy as np
import pytest

from isplab.develop.tiling import plan_axis, run_tiled, tiled_bands
from isplab.develop.torch_runners import TorchRunner


@pytest.mark.parametrize("length,size,overlap", [(101, 40, 16), (70, 40, 16), (1000, 512, 32), (513, 512, 32),
                                                 (40, 40, 16), (30, 40, 16), (1500, 128, 64), (76, 40, 0)])
def test_axis_plan_covers_the_frame_and_weights_sum_to_one(length, size, overlap):
    plan = plan_axis(length, size, overlap)
    assert plan.starts[0] == 0
    if length > size:
        assert plan.starts[-1] + size == length
        assert all(b - a <= size - overlap for a, b in zip(plan.starts, plan.starts[1:], strict=False))
    total = np.zeros(2 * max(length, size))
    for i, s in enumerate(plan.starts):
        total[2 * s:2 * s + 2 * size] += plan.weights(i)
    np.testing.assert_allclose(total[:2 * length], 1.0, atol=1e-6)


def test_tile_must_hold_two_overlaps():
    with pytest.raises(ValueError, match="twice the overlap"):
        plan_axis(100, 30, 16)


def _whole(model, packed):
    return TorchRunner(model)(packed[None])[0]


@pytest.mark.parametrize("tile", [40, (36, 56)])
def test_tiled_equals_whole_frame_when_receptive_field_fits(smallnet, packed, tile):
    # smallnet: receptive-field radius 3 packed pixels <= overlap / 4 = 4.
    tiled = run_tiled(packed, TorchRunner(smallnet), tile=tile, overlap=16)
    whole = _whole(smallnet, packed)
    assert tiled.shape == whole.shape == (3, 140, 202)
    assert np.abs(tiled - whole).max() <= 1e-5  # far inside the 1/255 requirement


def test_too_small_an_overlap_shows(smallnet, packed):
    # Two tiles of 40 over 76 overlap by exactly 4: the blend reaches 1 pixel from a tile's edge, inside the
    # 3-pixel receptive field, so zero padding at the tile edge shows (the test can see a broken rule).
    frame = packed[:, :76, :76]
    tiled = run_tiled(frame, TorchRunner(smallnet), tile=40, overlap=4)
    assert np.abs(tiled - _whole(smallnet, frame)).max() > 1 / 255


class FixedRunner(TorchRunner):
    """A torch model that, like a fixed-size .tflite, only accepts one input size."""

    fixed_size = (32, 48)

    def __call__(self, tile):
        assert tile.shape == (1, 4, *self.fixed_size), tile.shape
        return super().__call__(tile)


def test_fixed_size_runner_gets_exact_tiles(smallnet, packed):
    tiled = run_tiled(packed, FixedRunner(smallnet), tile=999, overlap=16)
    assert np.abs(tiled - _whole(smallnet, packed)).max() <= 1e-5


def test_frame_smaller_than_a_fixed_tile_is_reflect_padded(smallnet, packed):
    small = packed[:, :20, :]  # 20 rows < the runner's 32
    tiled = run_tiled(small, FixedRunner(smallnet), overlap=16)
    whole = _whole(smallnet, small)
    assert tiled.shape == whole.shape
    # Padding changes only what the bottom rows' receptive field sees (3 packed rows = 6 output rows).
    assert np.abs(tiled[:, :-6] - whole[:, :-6]).max() <= 1e-5


def test_progress_reports_every_tile(smallnet, packed):
    calls = []
    run_tiled(packed, TorchRunner(smallnet), tile=40, overlap=16, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1][0] == calls[-1][1] == len(calls) > 1


@pytest.mark.parametrize("tile", [40, (36, 56)])
def test_bands_are_final_rows_in_order_and_make_up_the_frame(smallnet, packed, tile):
    runner = TorchRunner(smallnet)
    bands = [(y0, b.copy()) for y0, b in tiled_bands(packed, runner, tile=tile, overlap=16)]  # views: copy
    starts = [y0 for y0, _ in bands]
    assert starts[0] == 0 and all(b.shape[2] == 3 and b.shape[1] == 202 for _, b in bands)  # channels last
    assert starts == sorted(starts) and len(bands) > 1
    assert all(y0 + b.shape[0] == nxt for (y0, b), nxt in zip(bands, starts[1:] + [140], strict=True))
    np.testing.assert_array_equal(np.concatenate([b for _, b in bands], axis=0).transpose(2, 0, 1),
                                  run_tiled(packed, runner, tile=tile, overlap=16))
