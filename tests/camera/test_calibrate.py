"""Calibration (isplab.camera.calibrate, ``isplab calibrate``): a known neutral is recovered."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isplab.camera.calibrate import find_neutral
from isplab.camera.profile import RawDomain
from isplab.cli import main
from isplab.errors import IsplabError
from isplab.models import create_model
from isplab.models.ops import depth_to_space
from isplab.models.weights import load_checkpoint, model_checkpoint, raw_domain, save_checkpoint

GAINS = (1.8, 1.0, 2.2, 1.0)  # canonical B, G_r, R, G_b: a grey scene comes out grey at 1 / GAINS
NEUTRAL = tuple(1 / g for g in GAINS)


class GainCamera(nn.Module):
    """Fixed weights: remove a pedestal, multiply channels by known gains, then a fixed colour matrix (rows
    sum to 1: grey stays grey) and a gamma curve. ``(N, 4, h, w) -> (N, 3, 2h, 2w)``."""

    def __init__(self, pedestal: float = 0.0):
        super().__init__()
        self.pedestal = pedestal
        self.register_buffer("gains", torch.tensor(GAINS, dtype=torch.float64).view(1, 4, 1, 1))
        self.register_buffer("mix", torch.tensor([[1.6, -0.4, -0.2], [-0.3, 1.5, -0.2], [0.0, -0.5, 1.5]],
                                                 dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = (x - self.pedestal) * self.gains
        rgb = torch.stack([y[:, 2], (y[:, 1] + y[:, 3]) / 2, y[:, 0]], dim=1)
        rgb = torch.einsum("oc,nchw->nohw", self.mix, rgb).clamp_min(1e-6) ** (1 / 2.2)
        return depth_to_space(rgb.repeat(1, 4, 1, 1), 2)


def test_recovers_a_known_neutral() -> None:
    result = find_neutral(GainCamera().double(), RawDomain())
    assert result.neutral == pytest.approx(NEUTRAL, rel=1e-6)
    assert max(result.chroma) < 1e-6 and result.iterations < 20


def test_recovers_the_neutral_behind_a_pedestal() -> None:
    """A model trained on data with a black pedestal in its input (MAI data / 1020)."""
    model = GainCamera(pedestal=60 / 1020).double()
    domain = RawDomain(sensor_black=(60.0,) * 4)
    assert find_neutral(model, domain).neutral == pytest.approx(NEUTRAL, rel=1e-6)


def _tanh_relu_camera() -> nn.Module:
    """mialgo_3conv with centre-tap weights: hidden k = tanh(g_k * colour_k), output colour k = hidden k,
    so a flat input renders grey exactly when g_R R = g_G G = g_B B: neutral = 1 / g."""
    model = create_model("mialgo_3conv")
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        # canonical inputs B=0, G_r=1, R=2, G_b=3 -> hidden R=0, G=1, B=2
        for hidden, inputs, gain in ((0, (2,), GAINS[2]), (1, (1, 3), GAINS[1] / 2), (2, (0,), GAINS[0])):
            for i in inputs:
                model.conv1.weight[hidden, i, 1, 1] = gain
            model.conv2.weight[hidden, hidden, 1, 1] = 1.0
        for offset in range(4):  # depth_to_space (DCR): channel offset * 3 + colour
            for colour in range(3):
                model.conv3.weight[offset * 3 + colour, colour, 1, 1] = 1.0
    return model


def test_cli_stores_the_neutral_in_the_checkpoint(tmp_path, capsys) -> None:
    src = save_checkpoint(tmp_path / "m.pt", model_checkpoint("mialgo_3conv", {}, _tanh_relu_camera()))
    before = src.read_bytes()
    assert main(["calibrate", "--weights", str(src), "--out", str(tmp_path / "cal.pt")]) == 0
    assert "neutral (B, Gr, R, Gb) = (0.5556, 1.0000, 0.4545, 1.0000)" in capsys.readouterr().out
    state = load_checkpoint(tmp_path / "cal.pt")
    assert raw_domain(state).neutral == pytest.approx(NEUTRAL, rel=1e-4)
    assert state["calibration"]["iterations"] >= 1 and src.read_bytes() == before  # --out: source untouched


def test_colour_blind_model_and_shipped_weights_are_errors(tmp_path, capsys) -> None:
    class Grey(nn.Module):
        def forward(self, x):
            return depth_to_space(x.mean(dim=1, keepdim=True).repeat(1, 12, 1, 1), 2)

    with pytest.raises(IsplabError, match="does not depend on the input channel ratios"):
        find_neutral(Grey(), RawDomain())
    with pytest.raises(IsplabError, match=r"levels must lie in \(0, 1\]"):
        find_neutral(Grey(), RawDomain(), levels=(0.5, 1.5))
    assert main(["calibrate", "--weights", "pretrained:microisp"]) == 2
    assert "not rewritten in place; pass --out" in capsys.readouterr().err
