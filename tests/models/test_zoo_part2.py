"""Team models, part 2: MiAlgo UNet, CASIA teacher/student, DANN-ISP, AWBUnet, IFSNet, GaUss-DWT.

Shapes, gradients, determinism, fusion and export (GPU audit, rank <= 4) of every model: ``test_all_models.py``.
"""

from __future__ import annotations

import pytest
import torch

from isplab.models import count_parameters, create_model

#: Reduced-width overrides so forward/backward stay cheap (awbunet is small enough at full width).
TINY = {
    "mialgo_unet": {"channels": (4, 8, 8, 16), "n_blocks": 1},
    "casia_teacher": {"base": 4},
    "casia_student": {"base": 4},
    "dann_isp": {"widths": (8, 8, 16, 16), "feature_dim": 8},
    "awbunet": {},
    "ifsnet": {"low_channels": 8, "low_blocks": 1, "high_channels": 8, "high_blocks": 1},
    "gaussdwt": {"channels": 8, "dwt_widths": (8, 8, 16, 16), "merge_channels": 16, "merge_blocks": 1},
}

#: A packed input size that breaks each model's size multiple.
BAD_SIZES = {
    "mialgo_unet": (12, 16),
    "casia_teacher": (16, 24),
    "casia_student": (16, 24),
    "dann_isp": (12, 16),
    "awbunet": (16, 20),
    "gaussdwt": (16, 12),
}

#: Table 1 TFLite sizes, MB.
REPORT_MB = {
    "mialgo_unet": 117,
    "casia_teacher": 205,
    "casia_student": 205,
    "dann_isp": 29.4,
    "awbunet": 1.0,
    "ifsnet": 78.9,
    "gaussdwt": 102,
}


def tiny(name: str, **extra) -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model(name, **TINY[name], **extra)


@pytest.mark.parametrize("name", list(REPORT_MB))
def test_default_size_matches_report(name):
    with torch.device("meta"):  # count parameters without allocating 200 MB models
        model = create_model(name)
    mb = count_parameters(model) * 4 / 1e6
    assert abs(mb / REPORT_MB[name] - 1) <= 0.25, f"{name}: {mb:.1f} MB vs report {REPORT_MB[name]} MB"


@pytest.mark.parametrize("name", list(BAD_SIZES))
def test_bad_size_raises(name):
    h, w = BAD_SIZES[name]
    with pytest.raises(ValueError, match="divisible by"):
        tiny(name)(torch.rand(1, 4, h, w))


def test_casia_same_transposed_conv_equals_output_padding_form():
    from isplab.models.zoo.casia import _SameTransposedConv

    ours = _SameTransposedConv(5, 3)
    ref = torch.nn.ConvTranspose2d(5, 3, 3, stride=2, padding=1, output_padding=1)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 7, 9)
    with torch.no_grad():
        assert ours(x).shape == (2, 3, 14, 18)
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-6


def test_gaussdwt_fixed_filter_is_per_channel():
    from isplab.models.ops import sobel_kernels
    from isplab.models.zoo.channel_team import FixedFilter

    kernels = sobel_kernels()
    x = torch.randn(1, 4, 9, 11)
    depthwise = torch.nn.functional.conv2d(x, kernels.repeat(4, 1, 1).unsqueeze(1), padding=1, groups=4)
    assert torch.allclose(FixedFilter(4, kernels)(x), depthwise, atol=1e-6)


# --- CASIA: per-level features for distillation ------------------------------------------------------


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


# --- DANN-ISP: domains and gradient reversal ---------------------------------------------------------


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


# --- Rainbow: RGB gains -------------------------------------------------------------------------------


def test_awbunet_gains_start_at_one_and_scale_output():
    model = tiny("awbunet").eval()
    x = torch.rand(2, 4, 16, 16)
    with torch.no_grad():
        rgb, gains = model(x, return_gains=True)
        assert gains.shape == (2, 5) and torch.allclose(gains, torch.ones(2, 5))
        model.gain.mlp[-1].bias.copy_(torch.tensor([0.0, 0.0, 0.0, 0.0, 10.0]))  # boost blue brightness
        boosted = model(x)
    assert torch.allclose(boosted[:, :2], rgb[:, :2])
    assert torch.allclose(boosted[:, 2], rgb[:, 2] * 2 * torch.sigmoid(torch.tensor(10.0)))
