"""Loss registry, every registered loss's basic contract, hand-computed values and CombinedLoss."""

from __future__ import annotations

import math

import pytest
import torch

from isplab import metrics
from isplab.errors import IsplabError
from isplab.losses import CombinedLoss, LossTerm, create_loss, list_losses, loss_entry

#: Value on identical inputs where it is not 0 (Charbonnier and the edge loss keep their eps).
MINIMUM = {"charbonnier": 1e-3, "edge": 1e-3}
#: MS-SSIM needs > 160 px at its default window, so its contract tests use images that large.
SIZE = 168
#: Options for the contract tests: perceptual backbones are random (no weight file here) and shallow (fast).
OPTIONS = {
    "perceptual_vgg": {"pretrained": False, "layers": ["relu1_2", "relu2_2"]},
    "perceptual_resnet": {"pretrained": False, "layers": ["stem", "layer1"]},
}


def contract_images(name: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Test images for loss ``name``: 168 px for MS-SSIM, 32 px (fast) for the rest."""
    return images(seed=seed, size=SIZE if name == "ms_ssim" else 32)


def build(name: str) -> torch.nn.Module:
    return create_loss(name, **OPTIONS.get(name, {}))


def images(seed: int = 0, n: int = 2, size: int = SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(n, 3, size, size, generator=gen)
    pred = (target + 0.1 * torch.randn(target.shape, generator=gen)).clamp(0, 1)
    return pred, target


def const(value: float, size: int = 16, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.full((1, 3, size, size), value, dtype=dtype)


def test_core_losses_registered():
    assert {"l1", "mse", "charbonnier", "ssim", "ms_ssim"} <= set(list_losses())
    families = {"cosine", "edge", "color", "exposure", "patch", "histogram", "perceptual_vgg", "perceptual_resnet"}
    assert families <= set(list_losses())
    assert list_losses("ms_*") == ["ms_ssim"]
    assert all(loss_entry(name).description for name in list_losses())


@pytest.mark.parametrize("name", list_losses())
def test_identical_inputs_give_minimum(name):
    _, target = contract_images(name)
    value = build(name)(target, target.clone())
    assert value.ndim == 0
    assert value.item() == pytest.approx(MINIMUM.get(name, 0.0), abs=1e-5)


@pytest.mark.parametrize("name", list_losses())
def test_positive_with_finite_gradients(name):
    pred, target = contract_images(name, seed=1)
    pred.requires_grad_(True)
    value = build(name)(pred, target)
    value.backward()
    assert torch.isfinite(value) and value.item() > MINIMUM.get(name, 0.0)
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


@pytest.mark.parametrize("name", list_losses())
def test_shape_mismatch_is_refused(name):
    pred, target = contract_images(name)
    with pytest.raises(IsplabError, match="shape"):
        build(name)(pred[..., :-2], target)


@pytest.mark.parametrize("name", list_losses())
def test_gradient_finite_at_identical_inputs(name):
    # Training can reach a pixel-exact match (e.g. flat regions): no NaN from sqrt/norm/division at 0.
    _, target = contract_images(name)
    pred = target.clone().requires_grad_(True)
    build(name)(pred, target).backward()
    assert torch.isfinite(pred.grad).all()


@pytest.mark.parametrize("name", list_losses())
def test_float64_inputs(name):
    pred, target = contract_images(name, seed=2)
    loss = build(name).double()
    value = loss(pred.double(), target.double())
    assert value.dtype == torch.float64 and torch.isfinite(value)


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("l1", {}, 0.3),
        ("mse", {}, 0.09),
        ("charbonnier", {"eps": 0.4}, 0.5),  # sqrt(0.3^2 + 0.4^2)
        ("charbonnier", {}, math.sqrt(0.09 + 1e-6)),
    ],
)
def test_pixel_losses_on_constant_images(name, kwargs, expected):
    assert create_loss(name, **kwargs)(const(0.2), const(0.5)).item() == pytest.approx(expected, rel=1e-6)


def test_ssim_loss_on_constant_images():
    # Flat images have no variance: SSIM = (2ab + C1) / (a^2 + b^2 + C1) * C2 / C2.
    a, b, c1 = 0.2, 0.5, 0.01**2
    expected = 1 - (2 * a * b + c1) / (a * a + b * b + c1)
    loss = create_loss("ssim")
    f64 = torch.float64
    assert loss(const(a, dtype=f64), const(b, dtype=f64)).item() == pytest.approx(expected, rel=1e-12)
    # float32: the variance uxx - ux^2 cancels to ~1e-8, against C2 = 9e-4.
    assert loss(const(a), const(b)).item() == pytest.approx(expected, abs=1e-4)


def test_ssim_loss_is_one_minus_metric():
    pred, target = images(size=32)
    assert create_loss("ssim")(pred, target).item() == pytest.approx(1 - metrics.ssim(pred, target).item())


def test_ms_ssim_small_images_and_options():
    pred, target = images(size=64)
    with pytest.raises(IsplabError, match="160 px"):
        create_loss("ms_ssim")(pred, target)
    # A 5x5 window needs only > 64 px; 3 scales with custom weights.
    pred, target = images(size=72)
    loss = create_loss("ms_ssim", win_size=5, weights=[0.2, 0.3, 0.5])
    expected = 1 - metrics.ms_ssim(pred, target, win_size=5, weights=[0.2, 0.3, 0.5])
    assert loss(pred, target).item() == pytest.approx(expected.item())


def test_unknown_loss_names_known_ones():
    with pytest.raises(IsplabError, match="unknown loss 'l3'.*charbonnier.*l1"):
        create_loss("l3")


def test_bad_option_names_the_loss():
    with pytest.raises(IsplabError, match="charbonnier"):
        create_loss("charbonnier", epsilon=1e-3)


def test_combined_loss_weights_and_terms():
    loss = CombinedLoss(
        [
            {"name": "l1", "weight": 2.0},
            LossTerm("mse", 10.0),
            {"name": "charbonnier", "weight": 0.5, "eps": 0.4},
            "l1",
        ]
    )
    total, terms = loss(const(0.2), const(0.5))
    assert list(terms) == ["l1", "mse", "charbonnier", "l1_2"]
    assert terms["l1"].item() == pytest.approx(0.3) and terms["mse"].item() == pytest.approx(0.09)
    assert terms["charbonnier"].item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(2 * 0.3 + 10 * 0.09 + 0.5 * 0.5 + 0.3)
    assert not any(v.requires_grad for v in terms.values())


def test_combined_loss_gradient_flows():
    pred, target = images(size=32)
    pred.requires_grad_(True)
    total, _ = CombinedLoss([{"name": "l1"}, {"name": "ssim", "weight": 0.5}])(pred, target)
    total.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_loss_term_parsing():
    flat = LossTerm.parse({"name": "charbonnier", "weight": 0.5, "eps": 1e-6})
    nested = LossTerm.parse({"name": "charbonnier", "weight": 0.5, "kwargs": {"eps": 1e-6}})
    assert flat == nested == LossTerm("charbonnier", 0.5, {"eps": 1e-6})
    assert LossTerm.parse("mse") == LossTerm("mse")


@pytest.mark.parametrize(
    ("terms", "match"),
    [
        ([], "at least one"),
        ([{"weight": 1.0}], "name"),
        ([{"name": "l1", "weight": -1}], "weight"),
        ([{"name": "nope"}], "unknown loss"),
    ],
)
def test_combined_loss_errors(terms, match):
    with pytest.raises(IsplabError, match=match):
        CombinedLoss(terms)
