"""Perceptual losses and their torchvision-compatible backbones (random weights: none can be downloaded here)."""

from __future__ import annotations

import pytest
import torch

from isplab.errors import IsplabError
from isplab.losses import CombinedLoss, create_loss
from isplab.models.backbones import VGG19, ResNet50


def pair(size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(1, 3, size, size, generator=gen)
    return (target + 0.1 * torch.randn(target.shape, generator=gen)).clamp(0, 1), target


def test_vgg19_matches_torchvision_layout():
    net = VGG19()
    keys = list(net.state_dict())
    assert keys[:2] == ["features.0.weight", "features.0.bias"] and keys[-1] == "features.34.bias"
    assert len(keys) == 32  # 16 convs
    assert sum(p.numel() for p in net.parameters()) == 20_024_384  # torchvision vgg19().features
    assert net.state_dict()["features.34.weight"].shape == (512, 512, 3, 3)


def test_resnet50_matches_torchvision_layout():
    state = ResNet50().state_dict()
    for key in ("conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight", "layer4.2.conv3.weight"):
        assert key in state
    assert state["layer4.2.conv3.weight"].shape == (2048, 512, 1, 1)
    assert state["layer2.0.conv2.weight"].shape == (128, 128, 3, 3)  # stride on the 3x3 (v1.5)
    assert len(state) == 318  # torchvision's 320 minus fc.weight, fc.bias
    # torchvision resnet50: 25,557,032 parameters, of which fc has 2048 * 1000 + 1000.
    assert sum(p.numel() for p in ResNet50().parameters()) == 25_557_032 - 2_049_000


def test_resnet50_feature_shapes():
    out = ResNet50(last="layer2").eval()(torch.zeros(1, 3, 32, 32), ["stem", "layer1", "layer2"])
    assert [tuple(v.shape) for v in out.values()] == [(1, 64, 8, 8), (1, 256, 8, 8), (1, 512, 4, 4)]
    with pytest.raises(IsplabError, match="truncated"):
        ResNet50(last="layer1")(torch.zeros(1, 3, 32, 32), ["layer2"])


def test_missing_weights_explain_how_to_make_them():
    with pytest.raises(IsplabError, match=r"torchvision.*pretrained: false"):
        create_loss("perceptual_vgg")
    with pytest.raises(IsplabError, match=r"resnet50\(weights="):
        create_loss("perceptual_resnet")
    with pytest.raises(IsplabError, match="not found"):
        create_loss("perceptual_vgg", weights="/nonexistent/vgg19.pth")


def test_vgg_weights_roundtrip_from_torchvision_features_file(tmp_path):
    # What `torchvision.models.vgg19(...).features.state_dict()` saves: keys "0.weight", ..., "34.bias".
    random = create_loss("perceptual_vgg", pretrained=False, layers=["relu1_2", "relu3_1"])
    features_only = VGG19().features.state_dict()
    random.net.features.load_state_dict({k: v for k, v in features_only.items() if int(k.split(".")[0]) < 12})
    torch.save(features_only, tmp_path / "vgg19.pth")
    loaded = create_loss("perceptual_vgg", weights=str(tmp_path / "vgg19.pth"), layers=["relu1_2", "relu3_1"])
    pred, target = pair()
    assert loaded(pred, target).item() == pytest.approx(random(pred, target).item(), rel=1e-6)
    # A full-model dict (features.* plus classifier.*) loads too.
    full = {f"features.{k}": v for k, v in features_only.items()} | {"classifier.0.weight": torch.zeros(1)}
    torch.save(full, tmp_path / "vgg19_full.pth")
    again = create_loss("perceptual_vgg", weights=str(tmp_path / "vgg19_full.pth"), layers=["relu1_2", "relu3_1"])
    assert again(pred, target).item() == pytest.approx(loaded(pred, target).item(), rel=1e-6)


def test_resnet_weights_roundtrip_and_wrong_file(tmp_path):
    random = create_loss("perceptual_resnet", pretrained=False, layers=["layer1"])
    state = ResNet50().state_dict() | {"fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)}
    random.net.load_state_dict({k: v for k, v in state.items() if k in random.net.state_dict()})
    torch.save(state, tmp_path / "resnet50.pth")
    loaded = create_loss("perceptual_resnet", weights=str(tmp_path / "resnet50.pth"), layers=["layer1"])
    pred, target = pair()
    assert loaded(pred, target).item() == pytest.approx(random(pred, target).item(), rel=1e-6)
    with pytest.raises(IsplabError, match="not vgg19 weights"):
        create_loss("perceptual_vgg", weights=str(tmp_path / "resnet50.pth"))


@pytest.mark.parametrize("name", ["perceptual_vgg", "perceptual_resnet"])
def test_default_deep_layer_contract(name):
    # Default taps (relu5_4 / layer3) on a tiny image: 0 on identical inputs, finite non-zero gradient.
    loss = create_loss(name, pretrained=False)
    pred, target = pair(32)
    assert loss(target, target.clone()).item() == 0.0
    pred.requires_grad_(True)
    value = loss(pred, target)
    value.backward()
    assert value.item() > 0 and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_backbone_frozen_hidden_and_in_eval():
    loss = create_loss("perceptual_resnet", pretrained=False, layers=["layer1"])
    assert list(loss.parameters()) == [] and loss.state_dict() == {}  # not optimised, not checkpointed
    assert not any(p.requires_grad for p in loss.net.parameters())
    loss.train()
    assert not loss.net.training  # batch-norm statistics must not drift
    pred, target = pair()
    before = loss(pred, target).item()
    assert loss.double()(pred.double(), target.double()).item() == pytest.approx(before, rel=1e-5)
    assert next(loss.net.parameters()).dtype == torch.float64


def test_imagenet_normalisation_inside():
    # A mid-grey input and the ImageNet mean differ only by the normalisation: features of the mean are
    # those of an all-zero normalised input.
    loss = create_loss("perceptual_vgg", pretrained=False, layers=["conv1_1"])
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1).expand(1, 3, 8, 8)
    bias = loss.net.features[0].bias.view(1, -1, 1, 1)
    assert torch.allclose(loss.features(mean)["conv1_1"][..., 2:-2, 2:-2], bias.expand(1, 64, 4, 4), atol=1e-6)


def test_perceptual_options_and_combination():
    with pytest.raises(IsplabError, match="relu9_9"):
        create_loss("perceptual_vgg", pretrained=False, layers=["relu9_9"])
    with pytest.raises(IsplabError, match="distance"):
        create_loss("perceptual_vgg", pretrained=False, distance="cosine")
    l1 = create_loss("perceptual_vgg", pretrained=False, layers="relu1_1", distance="l1")
    assert l1.layers == ["relu1_1"]
    combined = CombinedLoss(
        [{"name": "l1"}, {"name": "perceptual_vgg", "weight": 0.1, "layers": ["relu1_2"], "pretrained": False}]
    )
    total, terms = combined(*pair())
    assert set(terms) == {"l1", "perceptual_vgg"} and torch.isfinite(total)
