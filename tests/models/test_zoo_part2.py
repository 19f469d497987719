"""Team models, part 2: MiAlgo UNet, CASIA teacher/student, DANN-ISP, AWBUnet, IFSNet, GaUss-DWT."""

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

#: Packed input sizes (square, non-square) and one size that breaks the model's multiple (None: any).
SIZES = {
    "mialgo_unet": ([(16, 16), (16, 24)], (12, 16)),
    "casia_teacher": ([(16, 16), (16, 32)], (16, 24)),
    "casia_student": ([(16, 16), (16, 32)], (16, 24)),
    "dann_isp": ([(16, 16), (16, 24)], (12, 16)),
    "awbunet": ([(16, 16), (16, 24)], (16, 20)),
    "ifsnet": ([(16, 16), (16, 24)], None),
    "gaussdwt": ([(16, 16), (16, 24)], (16, 12)),
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


@pytest.mark.parametrize("name,size", [(n, s) for n, (sizes, _) in SIZES.items() for s in sizes])
def test_output_shape(name, size):
    h, w = size
    with torch.no_grad():
        y = tiny(name).eval()(torch.rand(1, 4, h, w))
    assert y.shape == (1, 3, 2 * h, 2 * w)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", list(TINY))
def test_backward_finite(name):
    model = tiny(name)
    h, w = SIZES[name][0][1]
    model(torch.rand(1, 4, h, w)).square().mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("name", [n for n, (_, bad) in SIZES.items() if bad is not None])
def test_bad_size_raises(name):
    h, w = SIZES[name][1]
    with pytest.raises(ValueError, match="divisible by"):
        tiny(name)(torch.rand(1, 4, h, w))


def _activation_ranks(model: torch.nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Rank of every exported-graph value computed from the input (constant weight math excluded)."""
    graph = torch.export.export(model.eval(), (x,)).graph
    user_input = next(n for n in graph.nodes if n.op == "placeholder" and n.name == "x")
    ranks, frontier = {}, [user_input]
    while frontier:
        node = frontier.pop()
        for user in node.users:
            if user.name not in ranks and isinstance(user.meta.get("val"), torch.Tensor):
                ranks[user.name] = user.meta["val"].dim()
                frontier.append(user)
    return ranks


@pytest.mark.parametrize("name", ["ifsnet", "gaussdwt"])
def test_gpu_friendly_ranks(name):
    """The two teams whose TFLite failed on the phone GPU: no activation above rank 4 after export."""
    ranks = _activation_ranks(tiny(name), torch.rand(1, 4, 16, 16))
    assert ranks and max(ranks.values()) <= 4, {k: r for k, r in ranks.items() if r > 4}


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
