"""Official baselines: smallnet / mialgo_3conv, MicroISP 1.0 / 0.5, PyNET-V2 Mobile."""

from __future__ import annotations

import pytest
import torch

from isplab.models import count_parameters, create_model, list_models
from isplab.models.ops import depth_to_space

#: Two packed input sizes per model (one non-square), as small as each architecture allows.
SIZES = {
    "smallnet": [(8, 8), (6, 10)],
    "mialgo_3conv": [(8, 8), (6, 10)],
    "microisp": [(80, 80), (80, 92)],  # attention needs >= 79
    "microisp_0.5": [(80, 80), (92, 80)],
    "pynetv2_mobile": [(32, 32), (28, 40)],  # multiples of 4, >= 28
}

PARAMS = {
    "smallnet": 4_652,
    "mialgo_3conv": 3_060,
    "microisp": 13_560,  # official MicroISP 1.0
    "microisp_0.5": 6_780,
    # Count of the official Keras graph (levels 1-3; the unused level-0 head is not built).
    "pynetv2_mobile": 932_583,
}


def test_all_registered():
    assert set(SIZES) <= set(list_models())


@pytest.mark.parametrize("name", list(SIZES))
def test_param_count(name):
    assert count_parameters(create_model(name)) == PARAMS[name]


@pytest.mark.parametrize(
    "name,size",
    [pytest.param(n, s, id=f"{n}-{s[0]}x{s[1]}") for n, sizes in SIZES.items() for s in sizes],
)
def test_shapes(name, size):
    torch.manual_seed(0)
    model = create_model(name).eval()
    h, w = size
    with torch.no_grad():
        y = model(torch.rand(2, 4, h, w))
    assert y.shape == (2, 3, 2 * h, 2 * w)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", list(SIZES))
def test_backward_finite(name):
    torch.manual_seed(0)
    model = create_model(name)
    h, w = SIZES[name][1]
    model(torch.rand(1, 4, h, w)).square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_depth_to_space_dcr_order():
    # Channel k = (by * 2 + bx) * C + c lands at pixel (by, bx) of output channel c (TF DCR order).
    x = torch.arange(8.0).reshape(1, 8, 1, 1)
    expected = torch.tensor([[[0.0, 2.0], [4.0, 6.0]], [[1.0, 3.0], [5.0, 7.0]]])[None]
    assert torch.equal(depth_to_space(x, 2), expected)
    assert not torch.equal(torch.nn.functional.pixel_shuffle(x, 2), expected)  # PixelShuffle is CRD


def test_microisp_output_range_and_min_size():
    model = create_model("microisp").eval()
    with torch.no_grad():
        y = model(torch.rand(1, 4, 80, 80))
    assert y.min() >= 0.5 - 0.58 and y.max() <= 0.5 + 0.58
    with pytest.raises(ValueError, match="at least"):
        model(torch.rand(1, 4, 64, 80))


def test_pynet_levels():
    torch.manual_seed(0)
    model = create_model("pynetv2_mobile").eval()
    x = torch.rand(1, 4, 32, 40)
    with torch.no_grad():
        levels = model(x, return_levels=True)
        finest = model(x)
        coarse = model.forward_levels(x, finest=3)
    assert {k: tuple(v.shape) for k, v in levels.items()} == {
        3: (1, 3, 16, 20), 2: (1, 3, 32, 40), 1: (1, 3, 64, 80)
    }
    assert torch.equal(levels[1], finest)
    assert list(coarse) == [3] and torch.equal(coarse[3], levels[3])
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.rand(1, 4, 30, 40))
