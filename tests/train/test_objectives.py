"""Training techniques: masked raw warm-up, distillation (+ pair cleaning), DANN, multi-level; exact resume."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from isplab.config import from_dict, to_dict
from isplab.data import synthesize_dataset
from isplab.errors import IsplabError
from isplab.models import create_model
from isplab.models.weights import load_checkpoint
from isplab.train.config import DataConfig, StageConfig, TrainConfig
from isplab.train.engine import train
from isplab.train.objectives import create_objective, list_objectives
from isplab.train.objectives.domain import dann_lambda
from isplab.train.objectives.masked_raw import patch_mask
from isplab.train.objectives.multilevel import pool_to

TINY_DANN = {"widths": [8, 16, 32, 64], "feature_dim": 16}


def make_cfg(model="mialgo_3conv", objective="supervised", kwargs=None, steps=2, **kw) -> TrainConfig:
    cfg = TrainConfig(model=model, stages=[StageConfig(steps=steps, objective={"name": objective,
                                                                                "kwargs": kwargs or {}})], **kw)
    return from_dict(TrainConfig, to_dict(cfg))


def build(cfg: TrainConfig, model: nn.Module, stage: int = 0):
    s = cfg.stages[stage]
    return create_objective(s.objective.name, cfg=cfg, model=model, stage=s, **s.objective.kwargs)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return synthesize_dataset(tmp_path_factory.mktemp("obj") / "synth", n=8, seed=0)


def test_all_techniques_registered():
    assert {"masked_raw", "distill", "domain", "multilevel", "supervised"} <= set(list_objectives())


# ---- masked raw recovery ------------------------------------------------------------------------------


def test_mask_is_exactly_half_of_the_3x3_tiles_and_deterministic():
    m = patch_mask((4, 12, 18), patch=3, ratio=0.5, seed=0, step=7)
    tiles = m[:, 0, ::3, ::3]  # one value per tile
    assert tiles.shape == (4, 4, 6)
    assert torch.equal(tiles.sum(dim=(1, 2)), torch.full((4,), 12.0))  # 24 tiles, exactly 12 masked each
    # constant inside every tile
    assert torch.equal(m, tiles.repeat_interleave(3, 1).repeat_interleave(3, 2)[:, None])
    assert torch.equal(m, patch_mask((4, 12, 18), 3, 0.5, seed=0, step=7))  # pure function of (seed, step)
    assert not torch.equal(m, patch_mask((4, 12, 18), 3, 0.5, seed=0, step=8))
    assert not torch.equal(m[0], m[1])  # each image its own mask


class Spy(nn.Module):
    """Records its input; RGB = nearest-upsampled first three planes (differentiable through a scale)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        self.seen = x.detach().clone()
        return F.interpolate(x[:, :3] * self.scale, scale_factor=2)


def test_masked_raw_hides_tiles_and_recovers_only_them():
    cfg = make_cfg(objective="masked_raw", kwargs={"patch": 3, "ratio": 0.5})
    model = Spy()
    obj = build(cfg, model)
    raw, target = torch.rand(2, 4, 6, 6) + 0.1, torch.rand(2, 3, 12, 12)
    total, terms = obj(model, raw, target, step=3)
    mask = patch_mask((2, 6, 6), 3, 0.5, cfg.seed, 3)
    assert torch.equal(model.seen, raw * (1 - mask))  # the model sees zeros on the masked tiles
    recovered = obj.head(F.interpolate(model.seen[:, :3], scale_factor=2))
    expected = ((recovered - raw).abs() * mask).sum() / (mask.sum() * 4)
    assert terms["recovery_l1"] == pytest.approx(float(expected), rel=1e-5)
    total.backward()
    assert all(p.grad is not None for p in obj.head.parameters()) and model.scale.grad is not None
    assert any(n.startswith("head.") for n in obj.state_dict())  # the head is checkpointed with the run


# ---- distillation ---------------------------------------------------------------------------------------


def test_teacher_is_frozen_hidden_and_gets_no_gradient():
    cfg = make_cfg(model="casia_student", objective="distill",
                   kwargs={"teacher_model": "casia_student", "teacher_kwargs": {"base": 4}, "feature_weight": 1.0})
    student = create_model("casia_student", base=4)
    obj = build(cfg, student)
    assert list(obj.parameters()) == [] and obj.state_dict() == {}  # not optimised, not checkpointed
    total, terms = obj(student, torch.rand(1, 4, 16, 16), torch.rand(1, 3, 32, 32), step=0)
    total.backward()
    assert all(p.grad is None and not p.requires_grad for p in obj.teacher.parameters())
    assert all(p.grad is not None for p in student.parameters() if p.requires_grad)
    assert terms["distill_feat"] > 0 and terms["distill_out"] > 0


def test_student_equal_to_teacher_has_zero_soft_losses():
    cfg = make_cfg(model="casia_student", objective="distill",
                   kwargs={"teacher_model": "casia_student", "teacher_kwargs": {"base": 4}, "feature_weight": 1.0})
    student = create_model("casia_student", base=4)
    obj = build(cfg, student)
    student.load_state_dict(obj.teacher.state_dict())
    student.eval()
    _, terms = obj(student, torch.rand(1, 4, 16, 16), torch.rand(1, 3, 32, 32), step=0)
    assert float(terms["distill_out"]) == 0 and float(terms["distill_feat"]) == 0


def test_teacher_follows_the_objective_to_a_device_or_dtype():
    cfg = make_cfg(objective="distill", kwargs={"teacher_model": "mialgo_3conv"})
    obj = build(cfg, create_model("mialgo_3conv")).to(torch.float64)  # what .to(cuda:RANK) does on a GPU rank
    assert {p.dtype for p in obj.teacher.parameters()} == {torch.float64}
    assert not obj.teacher.training and not any(p.requires_grad for p in obj.teacher.parameters())


class Const(nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = value

    def forward(self, x):
        return self.value.expand(x.shape[0], -1, -1, -1)


@pytest.mark.parametrize("mode", ["replace", "drop"])
def test_cleaning_flags_pairs_the_teacher_cannot_reproduce(mode):
    cfg = make_cfg(objective="distill", kwargs={"teacher_model": "mialgo_3conv", "output_weight": 0.0,
                                                "clean": {"threshold": 0.1, "mode": mode}})
    obj = build(cfg, create_model("mialgo_3conv"))
    teacher_rgb = torch.full((1, 3, 4, 4), 0.5)
    obj._teacher[0] = Const(teacher_rgb)
    target = torch.stack([torch.full((3, 4, 4), 0.55), torch.full((3, 4, 4), 0.9)])  # pair 2 misaligned
    student = Const(torch.full((1, 3, 4, 4), 0.6))
    total, terms = obj(student, torch.zeros(2, 4, 2, 2), target, step=0)
    assert float(terms["cleaned"]) == 0.5
    # replace: target of pair 2 becomes 0.5 -> L1 = mean(0.05, 0.1); drop: only pair 1 -> 0.05
    assert float(total) == pytest.approx(0.075 if mode == "replace" else 0.05, abs=1e-6)


def test_distill_needs_a_teacher():
    with pytest.raises(IsplabError, match="teacher"):
        build(make_cfg(objective="distill"), create_model("mialgo_3conv"))


# ---- domain adaptation ----------------------------------------------------------------------------------


def test_gradient_reversal_flips_the_sign_reaching_the_feature_extractor():
    torch.manual_seed(0)
    model = create_model("dann_isp", **TINY_DANN)
    x = torch.rand(2, 4, 16, 16)

    def grads():
        model.zero_grad()
        _, logits = model.forward_with_domain(x, "source")
        F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)).backward()
        unet = model.unet.encoders[0][0].weight.grad.clone()
        return unet, model.classifier.mlp[0].weight.grad.clone()

    model.classifier.grl.lambda_ = 1.0
    reversed_unet, reversed_cls = grads()
    model.classifier.grl.lambda_ = -1.0  # a plain (non-reversing) connection
    plain_unet, plain_cls = grads()
    assert reversed_unet.abs().sum() > 0
    torch.testing.assert_close(reversed_unet, -plain_unet)  # feature extractor: sign flipped
    torch.testing.assert_close(reversed_cls, plain_cls)  # classifier: unchanged, it still minimises


def test_domain_objective_uses_target_batches_deterministically(data_dir, tmp_path):
    target = synthesize_dataset(tmp_path / "target", n=3, seed=5)
    cfg = make_cfg(model="dann_isp", model_kwargs=TINY_DANN, objective="domain",
                   kwargs={"target_data": str(target), "labels": True}, steps=10)
    cfg.data.patch = 32
    obj = build(create_cfg := cfg, create_model("dann_isp", **TINY_DANN))  # noqa: F841
    a, b = obj.target.batch(4, 2), obj.target.batch(4, 2)
    assert torch.equal(a[0], b[0]) and a[0].shape == (2, 4, 16, 16)
    assert any(not torch.equal(a[0], obj.target.batch(s, 2)[0]) for s in range(5, 9))
    model = create_model("dann_isp", **TINY_DANN)
    total, terms = obj(model, torch.rand(2, 4, 16, 16), torch.rand(2, 3, 32, 32), step=0)
    assert {"domain_bce", "domain_acc", "target/l1", "l1"} <= set(terms)
    assert model.classifier.grl.lambda_ == 0.0  # DANN ramp starts at 0
    assert dann_lambda(1.0) == pytest.approx(1.0, abs=1e-4)


def test_domain_objective_needs_a_domain_model():
    with pytest.raises(IsplabError, match="forward_with_domain"):
        build(make_cfg(objective="domain"), create_model("mialgo_3conv"))


# ---- multi-level ------------------------------------------------------------------------------------------


def test_multilevel_losses_at_each_level_size():
    torch.manual_seed(0)
    model = create_model("pynetv2_mobile")
    cfg = make_cfg(model="pynetv2_mobile", objective="multilevel",
                   kwargs={"finest": 1, "level_weights": {1: 1.0, 2: 0.5, 3: 0.25}})
    obj = build(cfg, model)
    raw, target = torch.rand(1, 4, 32, 32), torch.rand(1, 3, 64, 64)
    total, terms = obj(model, raw, target, step=0)
    with torch.no_grad():
        levels = model.forward_levels(raw, finest=1)
    expected = 0.0
    for level, weight, size in ((1, 1.0, 64), (2, 0.5, 32), (3, 0.25, 16)):
        assert levels[level].shape[-1] == size
        value = F.l1_loss(levels[level], F.avg_pool2d(target, 64 // size))
        assert float(terms[f"level{level}/l1"]) == pytest.approx(float(value), rel=1e-5)
        expected += weight * float(value)
    assert float(total) == pytest.approx(expected, rel=1e-5)


def test_multilevel_coarse_stage_trains_only_its_level():
    cfg = make_cfg(model="pynetv2_mobile", objective="multilevel", kwargs={"finest": 3})
    obj = build(cfg, model := create_model("pynetv2_mobile"))
    _, terms = obj(model, torch.rand(1, 4, 32, 32), torch.rand(1, 3, 64, 64), step=0)
    assert set(terms) == {"level3/l1"}
    with pytest.raises(IsplabError, match="finer"):
        build(make_cfg(model="pynetv2_mobile", objective="multilevel",
                       kwargs={"finest": 2, "level_weights": {1: 1.0}}), model)


def test_pool_to_averages():
    t = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert pool_to(t, (2, 2)).flatten().tolist() == [2.5, 4.5, 10.5, 12.5]
    with pytest.raises(IsplabError):
        pool_to(t, (3, 3))


# ---- exact resume of the stateful techniques ---------------------------------------------------------------


@pytest.mark.parametrize("objective", ["masked_raw", "domain"])
def test_resume_is_exact(objective, data_dir, tmp_path):
    if objective == "domain":
        target = synthesize_dataset(tmp_path / "target", n=3, seed=5)
        kw = dict(model="dann_isp", model_kwargs=TINY_DANN, kwargs={"target_data": str(target)})
    else:
        kw = dict(kwargs={"patch": 3})
    cfg = make_cfg(objective=objective, steps=4, val_every=4, ckpt_every=2, log_every=1,
                   data=DataConfig(path=str(data_dir), batch_size=2, val_fraction=0.25, patch=64, val_crop=64), **kw)
    train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "cut", stop_after=2, progress=False)
    train(cfg, tmp_path / "cut", resume=True, progress=False)
    full, cut = (load_checkpoint(tmp_path / r / "checkpoints/last.pt") for r in ("full", "cut"))
    for key in ("model", "objectives"):
        for name, value in full[key].items():
            assert torch.equal(value, cut[key][name]), (key, name)


def test_unknown_objective_option_is_an_error():
    with pytest.raises(IsplabError, match="unknown option"):
        build(make_cfg(objective="masked_raw", kwargs={"patchsize": 3}), SimpleNamespace())


# ---- EMA of weights -------------------------------------------------------------------------------------------


def test_ema_tracks_the_average_and_is_used_for_checkpoints_and_resume(data_dir, tmp_path):
    from isplab.train.ema import WeightEMA

    net = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(net.weight)
    ema = WeightEMA(net, 0.5)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ema.update(net)
    assert float(ema.shadow["weight"]) == 0.5  # 0.5 * 0 + 0.5 * 1
    with ema.swapped(net):
        assert float(net.weight) == 0.5
    assert float(net.weight) == 1.0  # live weights back

    cfg = make_cfg(steps=4, val_every=4, ckpt_every=2, log_every=1, ema={"decay": 0.9},
                   data=DataConfig(path=str(data_dir), batch_size=2, val_fraction=0.25, patch=64, val_crop=64))
    train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "cut", stop_after=2, progress=False)
    train(cfg, tmp_path / "cut", resume=True, progress=False)
    full, cut = (load_checkpoint(tmp_path / r / "checkpoints/last.pt") for r in ("full", "cut"))
    for key in ("model", "live_model", "ema"):
        for name, value in full[key].items():
            assert torch.equal(value, cut[key][name]), (key, name)
    assert all(torch.equal(full["model"][k], full["ema"][k]) for k in full["ema"])  # exported = EMA
    assert any(not torch.equal(full["model"][k], full["live_model"][k]) for k in full["ema"])
