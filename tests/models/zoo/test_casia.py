"""CASIA teacher/student (isplab.models.zoo.casia): per-level features for distillation.

Shapes, gradients, export: ``test_all_models.py``.
"""

from __future__ import annotations

import pytest
import torch

from isplab.models import create_model
from isplab.models.zoo.casia import _SameTransposedConv


def tiny(name: str) -> torch.nn.Module:
    """Reduced width so forward/backward stay cheap."""
    torch.manual_seed(0)
    return create_model(name, base=4)


@pytest.mark.parametrize("name", ["casia_teacher", "casia_student"])
def test_default_size_matches_report(name: str, size_mb) -> None:
    assert size_mb(name) == pytest.approx(205, rel=0.25)


@pytest.mark.parametrize("name", ["casia_teacher", "casia_student"])
def test_bad_size_raises(name: str) -> None:
    with pytest.raises(ValueError, match="divisible by"):
        tiny(name)(torch.rand(1, 4, 16, 24))


def test_casia_same_transposed_conv_equals_output_padding_form():
    ours = _SameTransposedConv(5, 3)
    ref = torch.nn.ConvTranspose2d(5, 3, 3, stride=2, padding=1, output_padding=1)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 7, 9)
    with torch.no_grad():
        assert ours(x).shape == (2, 3, 14, 18)
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-6


def test_casia_features_pair_between_teacher_and_student():
    x = torch.rand(1, 4, 16, 32)
    outs = {name: tiny(name)(x, return_features=True) for name in ("casia_teacher", "casia_student")}
    (rgb_t, feats_t), (rgb_s, feats_s) = outs["casia_teacher"], outs["casia_student"]
    assert rgb_t.shape == rgb_s.shape == (1, 3, 32, 64)
    expected = [(1, 4 * 2**k, 16 // 2**k, 32 // 2**k) for k in range(4)]  # finest first
    assert [tuple(f.shape) for f in feats_t] == expected
    assert [tuple(f.shape) for f in feats_s] == expected


def test_casia_feature_distillation_backward():
    x = torch.rand(1, 4, 16, 16)
    teacher, student = tiny("casia_teacher").eval(), tiny("casia_student")
    with torch.no_grad():
        _, feats_t = teacher(x, return_features=True)
    _, feats_s = student(x, return_features=True)
    sum(torch.nn.functional.l1_loss(s, t) for s, t in zip(feats_s, feats_t, strict=True)).backward()
    assert torch.isfinite(student.encoders[0][0].weight.grad).all()
