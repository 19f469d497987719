"""DANN-ISP (isplab.models.zoo.dann): domains and gradient reversal. Shapes, export: ``test_all_models.py``."""

from __future__ import annotations

import pytest
import torch

from isplab.models import create_model


def tiny(name: str, **extra) -> torch.nn.Module:
    """Reduced width so forward/backward stay cheap."""
    torch.manual_seed(0)
    return create_model(name, widths=(8, 8, 16, 16), feature_dim=8, **extra)


def test_default_size_matches_report(size_mb) -> None:
    assert size_mb("dann_isp") == pytest.approx(29.4, rel=0.25)


def test_bad_size_raises() -> None:
    with pytest.raises(ValueError, match="divisible by"):
        tiny("dann_isp")(torch.rand(1, 4, 12, 16))


def test_dann_domain_outputs():
    model = tiny("dann_isp").eval()
    x = torch.rand(2, 4, 16, 24)
    with torch.no_grad():
        rgb_s, logits_s = model.forward_with_domain(x, domain="source")
        rgb_t, logits_t = model.forward_with_domain(x, domain=1)
        assert torch.equal(model(x), rgb_t)  # forward defaults to the target pre-encoder
    assert rgb_s.shape == (2, 3, 32, 48) and logits_s.shape == logits_t.shape == (2, 1)
    assert not torch.allclose(rgb_s, rgb_t)  # separate pre-encoders
    with pytest.raises(ValueError, match="unknown domain"):
        model(x, domain="other")


def test_dann_classifier_reverses_gradient():
    classifier = tiny("dann_isp", lambda_=0.5).classifier
    feats = torch.randn(2, 8, 2, 2, requires_grad=True)
    classifier(feats).sum().backward()
    reversed_grad = feats.grad.clone()
    feats.grad = None
    classifier.mlp(feats.mean(dim=(2, 3))).sum().backward()  # same head without the reversal layer
    assert torch.allclose(reversed_grad, -0.5 * feats.grad)


def test_dann_reversal_flips_only_the_feature_extractor():
    x = torch.rand(1, 4, 16, 16)

    def grads(lambda_: float) -> tuple[torch.Tensor, torch.Tensor]:
        model = tiny("dann_isp", lambda_=lambda_)
        model.forward_with_domain(x, "source")[1].sum().backward()
        return model.unet.project[0].weight.grad, model.classifier.mlp[0].weight.grad

    unet_rev, head_rev = grads(1.0)
    unet_plain, head_plain = grads(-1.0)  # lambda -1: plain gradient
    assert unet_rev.abs().sum() > 0
    assert torch.allclose(unet_rev, -unet_plain)
    assert torch.allclose(head_rev, head_plain)
