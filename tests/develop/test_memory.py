"""Memory bound of ``develop`` on a frame scaled down from the 12 MP target (< 2 GiB at 4000x3000).

The frame-sized buffers (mosaic, packed, output, the writer's bands) scale with the pixel count and the
tile's activations do not, so a 1/16 frame (1000x752) must stay under 2 GiB / 16 = 128 MB of peak RSS
growth. Measured in a fresh subprocess (``isplab.develop.measure``, the ``isplab.bench`` pattern).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.develop.measure import measure_develop
from isplab.models import create_model
from isplab.models.weights import model_checkpoint, save_checkpoint

FULL_PIXELS, FULL_BUDGET_MB = 4000 * 3000, 2048


@pytest.mark.slow
def test_scaled_frame_stays_within_the_scaled_budget(tmp_path):
    h, w = 752, 1000
    torch.manual_seed(0)
    # trained weights: a fresh MicroISP renders one flat grey, which develop refuses to write
    ckpt = save_checkpoint(tmp_path / "microisp.pt", model_checkpoint("microisp", {},
                                                                      create_model("microisp", pretrained=True)))
    raw = tmp_path / "frame.raw"
    np.random.default_rng(0).integers(0, 1021, (h, w)).astype("<u2").tofile(raw)
    result = measure_develop(raw, ckpt, tmp_path / "out", tile=256, overlap=32,
                             read_options={"width": w, "height": h, "white": 1020})
    budget = FULL_BUDGET_MB * (h * w) / FULL_PIXELS
    assert result["memory_window_reset"], "cannot reset VmHWM here: the growth would be a lower bound"
    assert result["peak_growth_mb"] < budget, result
    assert (tmp_path / "out" / "frame.png").is_file()
