"""Hand-computed values and invariances of the cosine, color, exposure, edge, patch and histogram losses."""

from __future__ import annotations

import math

import pytest
import torch

from isplab.errors import IsplabError
from isplab.losses import CombinedLoss, create_loss, histogram
from isplab.losses.edge import depthwise_filter
from isplab.models.ops import gauss_kernel


def const(value: float, size: int = 16) -> torch.Tensor:
    return torch.full((1, 3, size, size), value)


def rgb(r: float, g: float, b: float, size: int = 4) -> torch.Tensor:
    return torch.tensor([r, g, b]).view(1, 3, 1, 1).expand(1, 3, size, size).clone()


@pytest.mark.parametrize(
    ("pred", "target", "expected"),
    [
        ((1, 1, 0), (1, 0, 0), 1 - 1 / math.sqrt(2)),
        ((1, 0, 0), (0, 1, 0), 1.0),
        ((0.2, 0.4, 0.6), (0.1, 0.2, 0.3), 0.0),  # same direction, different brightness
    ],
)
def test_cosine_loss_hand_values(pred, target, expected):
    loss = create_loss("cosine", eps=1e-6)
    assert loss(rgb(*pred), rgb(*target)).item() == pytest.approx(expected, abs=1e-6)


def test_cosine_loss_black_pixels():
    # Black vs black is identical (0); black vs a colour has no shared direction (1 up to eps).
    loss = create_loss("cosine")
    assert loss(rgb(0, 0, 0), rgb(0, 0, 0)).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(rgb(0, 0, 0), rgb(0.5, 0.5, 0.5)).item() == pytest.approx(1.0, abs=2e-3)


def test_color_loss_constant_and_texture_blind():
    loss = create_loss("color")
    assert loss(const(0.2), const(0.5)).item() == pytest.approx(0.09, rel=1e-5)  # blur keeps flat colour
    # A fine +-0.1 checkerboard around 0.5 has the mean colour of flat 0.5: the blur hides it almost fully.
    checker = 0.5 + 0.1 * (torch.arange(32).view(1, -1) + torch.arange(32).view(-1, 1)).remainder(2).mul(2).sub(1)
    textured = checker.expand(1, 3, 32, 32)
    assert loss(textured, const(0.5, 32)).item() < 1e-3 * create_loss("mse")(textured, const(0.5, 32)).item()


def test_exposure_loss_hand_values():
    assert create_loss("exposure")(const(0.2), const(0.5)).item() == pytest.approx(0.3, rel=1e-5)
    zero_dce = create_loss("exposure", level=0.6)  # Zero-DCE: reference-free, target ignored
    assert zero_dce(const(0.2), const(0.9)).item() == pytest.approx(0.4, rel=1e-5)
    # Per-patch means: left half 0.1, right half 0.3 vs flat 0.2 -> |0.1 - 0.2| = |0.3 - 0.2| = 0.1.
    pred = torch.cat([torch.full((1, 3, 16, 16), 0.1), torch.full((1, 3, 16, 16), 0.3)], dim=-1)
    assert create_loss("exposure")(pred, torch.full((1, 3, 16, 32), 0.2)).item() == pytest.approx(0.1, rel=1e-5)
    with pytest.raises(IsplabError, match="smaller than patch"):
        create_loss("exposure")(const(0.2, 8), const(0.5, 8))


def test_edge_loss_ignores_brightness_offsets():
    assert create_loss("edge", mode="sobel", eps=1e-3)(const(0.2), const(0.5)).item() == pytest.approx(1e-3)
    # MPRNet's zero-insert upsampling is exact inside; its replicate padding leaks at the last rows/columns.
    band = create_loss("edge").edges(const(0.5) - const(0.2))
    assert band[..., 2:-2, 2:-2].abs().max().item() < 1e-6 and band.abs().max().item() > 0.01


def test_edge_loss_sobel_on_a_ramp():
    # Horizontal ramp 0.1 * column: Sobel x = 4 * (right - left) = 0.8 inside, 0.4 at the replicated
    # border columns; Sobel y = 0. Mean over the two maps: ((2 * 0.4 + 6 * 0.8) / 8) / 2 = 0.35.
    ramp = (0.1 * torch.arange(8.0)).expand(1, 3, 8, 8)
    loss = create_loss("edge", mode="sobel", eps=1e-6)
    assert loss(ramp, torch.zeros_like(ramp)).item() == pytest.approx(0.35, rel=1e-5)


def test_edge_loss_laplacian_sees_detail():
    # The Laplacian band keeps a single bright pixel (detail) that a flat image lacks.
    spot = torch.zeros(1, 3, 16, 16)
    spot[..., 8, 8] = 1.0
    assert create_loss("edge")(spot, torch.zeros_like(spot)).item() > 2e-3


def two_patch_pair(d_left: float, d_right: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Prediction/target 2x4 images whose 2x2 patches differ by constants ``d_left`` and ``d_right``."""
    target = torch.full((1, 3, 2, 4), 0.5)
    pred = target.clone()
    pred[..., :2] += d_left
    pred[..., 2:] += d_right
    return pred, target


def test_patch_loss_eq1_hand_values():
    pred, target = two_patch_pair(0.1, 0.3)
    # eps 0.1, zero variance: s_left = 1/(0.1 + 0.1) + 1/0.1 = 15, s_right = 1/(0.3 + 0.1) + 10 = 12.5.
    s_left, s_right = 15.0, 12.5
    raw = create_loss("patch", patch_size=2, eps=0.1, normalize=False)(pred, target)
    assert raw.item() == pytest.approx((math.exp(s_left) * 0.1 + math.exp(s_right) * 0.3) / 2, rel=1e-5)
    z = math.exp(s_left) + math.exp(s_right)
    w_left, w_right = 2 * math.exp(s_left) / z, 2 * math.exp(s_right) / z
    normalized = create_loss("patch", patch_size=2, eps=0.1)(pred, target)
    assert normalized.item() == pytest.approx((w_left * 0.1 + w_right * 0.3) / 2, rel=1e-5)
    # "direct" reading: s = |mean| + var -> 0.1 and 0.3.
    direct = create_loss("patch", patch_size=2, form="direct", normalize=False)(pred, target)
    assert direct.item() == pytest.approx((math.exp(0.1) * 0.1 + math.exp(0.3) * 0.3) / 2, rel=1e-5)


def test_patch_loss_uniform_error_is_l1():
    # Equal patches get equal weights (mean weight 1): the normalised loss is plain L1.
    pred, target = two_patch_pair(0.2, -0.2)
    assert create_loss("patch", patch_size=2)(pred, target).item() == pytest.approx(0.2, rel=1e-6)


def test_patch_loss_overflow_and_options():
    pred, target = two_patch_pair(0.1, 0.3)
    with pytest.raises(IsplabError, match="overflowed.*raise eps"):
        create_loss("patch", patch_size=2, eps=1e-3, normalize=False)(pred, target)
    with pytest.raises(IsplabError, match="smaller than patch_size"):
        create_loss("patch")(pred, target)
    with pytest.raises(IsplabError, match="form"):
        create_loss("patch", form="inverse")


def test_histogram_loss_hand_values():
    # bins at 0 and 1, bandwidth 1: a pixel at 0 weighs (1, 1/2) -> H = (2/3, 1/3); at 1, H = (1/3, 2/3).
    zeros, ones = const(0.0, 4), const(1.0, 4)
    a, b = math.sqrt(2 / 3), math.sqrt(1 / 3)
    hellinger = create_loss("histogram", bins=2, bandwidth=1.0)
    assert hellinger(zeros, ones).item() == pytest.approx(math.sqrt(2) * (a - b) / math.sqrt(2), rel=1e-6)
    l1 = create_loss("histogram", bins=2, bandwidth=1.0, distance="l1")
    assert l1(zeros, ones).item() == pytest.approx(2 / 3, rel=1e-6)


def test_histogram_loss_ignores_pixel_order_but_not_colour():
    gen = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 16, 16, generator=gen)
    shuffled = target.flatten(2)[..., torch.randperm(256, generator=gen)].view_as(target)
    loss = create_loss("histogram")
    assert loss(shuffled, target).item() == pytest.approx(0.0, abs=1e-6)
    assert loss((target * 0.5), target).item() > 0.1
    # Subsampling keeps the value close on a smooth image.
    assert create_loss("histogram", max_pixels=64)(target * 0.5, target).item() == pytest.approx(
        loss(target * 0.5, target).item(), abs=0.05
    )


def test_new_losses_combine_by_name():
    loss = CombinedLoss(
        [
            {"name": "charbonnier", "weight": 1.0},
            {"name": "cosine", "weight": 0.5},
            {"name": "patch", "weight": 0.1, "patch_size": 4},
            {"name": "histogram", "weight": 0.2, "bins": 16},
            {"name": "edge", "weight": 0.05, "mode": "sobel"},
        ]
    )
    total, terms = loss(const(0.2), const(0.5))
    assert list(terms) == ["charbonnier", "cosine", "patch", "histogram", "edge"]
    expected = sum(w * terms[k] for k, w in zip(terms, (1.0, 0.5, 0.1, 0.2, 0.05), strict=True))
    assert total.item() == pytest.approx(expected.item())


def test_color_blur_is_the_2d_gaussian():
    # The separable blur equals one 21x21 Gaussian pass (same padding) on a random image.
    x = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    blurred = create_loss("color").blur(x)
    assert torch.allclose(blurred, depthwise_filter(x, gauss_kernel(21, 3.0)), atol=1e-6)


def test_histogram_gradient_matches_numeric(monkeypatch):
    # The hand-written backward of the soft histogram, checked against finite differences; tiny chunks
    # so the bin-chunked loops are exercised too.
    monkeypatch.setattr(histogram, "_CHUNK_ELEMENTS", 8)
    x = torch.rand(1, 2, 3, dtype=torch.float64, requires_grad=True)
    centres = torch.linspace(0, 1, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: histogram.soft_histogram(v, centres, 0.3), (x,))
    # Same value as the plain formula.
    plain = (1 / (1 + ((x.flatten(2).unsqueeze(-1) - centres) / 0.3) ** 2)).sum(2)
    assert torch.allclose(histogram.soft_histogram(x, centres, 0.3), plain / plain.sum(-1, keepdim=True))
