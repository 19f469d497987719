"""Official baselines: smallnet / mialgo_3conv, MicroISP 1.0 / 0.5, PyNET-V2 Mobile.

Shapes, gradients, determinism, fusion and export of every model: ``test_all_models.py``.
"""

from __future__ import annotations

import pytest
import torch

from isplab.models import count_parameters, create_model, list_models
from isplab.models.ops import depth_to_space

PARAMS = {
    "smallnet": 4_652,
    "mialgo_3conv": 3_060,
    "microisp": 13_560,  # official MicroISP 1.0
    "microisp_0.5": 6_780,
    # Count of the official Keras graph (levels 1-3; the unused level-0 head is not built).
    "pynetv2_mobile": 932_583,
}


def test_all_registered():
    assert set(PARAMS) <= set(list_models())


@pytest.mark.parametrize("name", list(PARAMS))
def test_param_count(name):
    assert count_parameters(create_model(name)) == PARAMS[name]


def test_pynet_instance_norm_equals_torch():
    from isplab.models.pynetv2 import InstanceNorm

    ours = InstanceNorm(6, eps=1e-3, affine=True)
    torch.nn.init.normal_(ours.weight)
    torch.nn.init.normal_(ours.bias)
    ref = torch.nn.InstanceNorm2d(6, eps=1e-3, affine=True)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 6, 9, 7) * 3 + 1
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-5


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
