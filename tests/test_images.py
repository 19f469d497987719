"""isplab.images: the one float -> integer pixel conversion, pinned to the formula its callers used before."""

import numpy as np
import pytest

from isplab.images import quantize, to_uint8


def _reference(rgb: np.ndarray, peak: int, dtype) -> np.ndarray:
    # The inline conversion develop/writer, develop/compare and challenge each wrote before.
    return (np.clip(rgb, 0, 1).transpose(1, 2, 0) * peak + 0.5).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_the_old_inline_formula_bit_for_bit(dtype):
    rng = np.random.default_rng(0)
    rgb = rng.uniform(-0.2, 1.2, size=(3, 300, 7)).astype(dtype)  # 300 rows: more than one 256-row band
    rgb[:, 0, :3] = np.array([0.5 / 255, 1.5 / 255, 254.5 / 255], dtype=dtype)  # rounding boundaries
    out = to_uint8(rgb)
    assert out.dtype == np.uint8 and out.shape == (300, 7, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, _reference(rgb, 255, np.uint8))
    np.testing.assert_array_equal(quantize(rgb, 16), _reference(rgb, 65535, np.uint16))
    np.testing.assert_array_equal(quantize(rgb, 8, rows=5), out)


def test_clips_and_rounds_half_up():
    rgb = np.array([-1.0, 0.0, 0.5, 1.0, 2.0], dtype=np.float32)[None, None].repeat(3, 0)
    assert to_uint8(rgb)[0, :, 0].tolist() == [0, 0, 128, 255, 255]


def test_rejects_other_bit_depths():
    with pytest.raises(ValueError, match="8 or 16"):
        quantize(np.zeros((3, 2, 2), np.float32), 12)
