"""Parity inputs (isplab.export.samples): fitting in packed space, raw frames, dataset pairs, synthetic raws."""

from __future__ import annotations

import numpy as np
import torch

from isplab.export.samples import dataset_samples, fit_packed, packed_nhwc, raw_frame_samples, synthetic_samples


def test_fit_packed_crops_and_pads_symmetrically():
    x = np.arange(4 * 6 * 10, dtype=np.float32).reshape(4, 6, 10)
    out, box = fit_packed(x, (10, 4))
    assert out.shape == (4, 10, 4) and box == (2, 8, 0, 4)
    assert np.array_equal(out[:, 2:8], x[:, :, 3:7])


def test_real_frames_are_fitted_in_packed_space(real_frames):
    samples = raw_frame_samples(real_frames, (544, 960))
    # 1920x1080 mosaic -> packed 540x960 -> 544x960: two reflected rows above and below
    frame = next(s for s in samples if s.name.endswith(".raw"))
    assert frame.valid == (2, 542, 0, 960) and frame.packed.shape == (4, 544, 960)
    assert all(0 <= s.packed.min() and s.packed.max() <= 1 for s in samples)


def test_dataset_pairs_keep_targets_aligned_with_the_crop():
    packed = torch.rand(4, 20, 30)
    target = torch.rand(3, 40, 60)
    (s,) = dataset_samples([(packed, target)], (16, 24))
    assert s.packed.shape == (4, 16, 24) and s.target.shape == (3, 32, 48)
    np.testing.assert_array_equal(s.target, target.numpy()[:, 4:36, 6:54])
    np.testing.assert_array_equal(s.packed, packed.numpy()[:, 2:18, 3:27])


def test_synthetic_samples_are_deterministic_raw_like():
    a, b = synthetic_samples((16, 24)), synthetic_samples((16, 24))
    assert len(a) == 2 and all(np.array_equal(x.packed, y.packed) for x, y in zip(a, b, strict=True))
    assert all(0 <= s.packed.min() and s.packed.max() <= 1 and s.packed.std() > 0.01 for s in a)


def test_calibration_arrays_are_nhwc():
    (x,) = packed_nhwc([(np.ones((4, 10, 12), np.float32), None)], (8, 8))
    assert x.shape == (1, 8, 8, 4)
