"""The unpaired objective: its terms, one backward for both networks, a tiny run that learns, the
discriminators and their Adam state in the checkpoint, exact resume, the semi-supervised pairs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isplab.config import from_dict
from isplab.errors import IsplabError
from isplab.models import create_model
from isplab.models.discriminators import create_discriminator, list_discriminators
from isplab.train.config import TrainConfig, training_mode
from isplab.train.data import build_run_data
from isplab.train.engine import train
from isplab.train.objectives import create_objective
from isplab.train.objectives.unpaired_terms import (
    colour_stats,
    discriminator_loss,
    generator_loss,
)


def config(steps: int = 4, pairs: int = 0, **kwargs) -> TrainConfig:
    objective = {"name": "unpaired", "kwargs": {"warmup": 2, "pairs": pairs, **kwargs}}
    return from_dict(TrainConfig, {
        "model": "mialgo_3conv", "seed": 0,
        "data": {"batch_size": 2, "patch": 32, "val_crop": 64, "unpaired": {}, "stream": {"eval_cameras": 1}},
        "optim": {"lr": 3e-3}, "stages": [{"steps": steps, "objective": objective}],
        "val_every": steps, "ckpt_every": 2, "log_every": 1, "threads": 1})


def build(cfg: TrainConfig, model: nn.Module):
    stage = cfg.stages[0]
    return create_objective("unpaired", cfg=cfg, model=model, stage=stage, **stage.objective.kwargs)


def test_colour_stats_are_the_average_colour_and_chroma_spread_relative_to_luma():
    rgb = torch.rand(3, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    y = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    chroma = (rgb - y[:, None]).transpose(0, 1).reshape(3, -1)
    expected = torch.cat([rgb.sum(dim=(0, 2, 3)) / y.sum(), chroma.std(1) / y.mean()])
    torch.testing.assert_close(colour_stats(rgb), expected)
    torch.testing.assert_close(colour_stats(2 * rgb), expected)  # brightness does not count


def test_each_network_gets_only_its_own_gradient():
    disc = create_discriminator("patch_small", in_channels=3)
    gen = nn.Conv2d(3, 3, 1)
    real, x = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    generator_loss(disc, real, gen(x)).backward()
    assert all(p.grad is None for p in disc.parameters())  # the adversarial term never trains D
    assert gen.weight.grad is not None and gen.weight.grad.abs().sum() > 0
    gen.zero_grad()
    loss, acc = discriminator_loss(disc, real, gen(x), gamma=1.0)
    loss.backward()
    assert gen.weight.grad is None or not gen.weight.grad.any()  # D's loss never trains G
    assert all(p.grad is not None for p in disc.parameters()) and 0 <= float(acc) <= 1


def test_discriminators_are_registered():
    assert {"patch", "patch_small"} <= set(list_discriminators())
    with pytest.raises(IsplabError, match="unknown discriminator"):
        create_discriminator("nope")


def test_needs_unpaired_data():
    cfg = config()
    cfg.data.unpaired = None
    with pytest.raises(IsplabError, match="needs unpaired data"):
        build(cfg, create_model("mialgo_3conv"))


def test_a_tiny_run_lowers_its_losses(tmp_path):
    cfg = config(steps=40)
    batch = build_run_data(cfg.data, cfg.seed).train.batch(0, 8)

    def terms(state, objective_state=None):
        net = create_model("mialgo_3conv")
        net.load_state_dict(state)
        objective = build(cfg, net)
        if objective_state is not None:  # the learned white balance and the discriminators
            objective.load_state_dict({k[2:]: v for k, v in objective_state.items() if k.startswith("0.")})
        return objective(net, *batch, step=100)[1]  # with autograd: the R1 penalty needs it

    torch.manual_seed(cfg.seed)  # the engine's model initialisation
    before = terms(create_model("mialgo_3conv").state_dict())
    train(cfg, tmp_path / "run", progress=False)
    state = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)
    after = terms(state["model"], state["objectives"])
    assert after["structure"] < 0.7 * before["structure"], (before, after)
    assert after["colour"] < 0.7 * before["colour"], (before, after)


def test_checkpoint_holds_the_discriminators_and_their_adam_state(tmp_path):
    cfg = config(steps=2, disc_lr=5e-4)
    train(cfg, tmp_path / "run", progress=False)
    state = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)  # plain tensors and numbers
    disc = {k for k in state["objectives"] if k.startswith("0.colour_disc.") or k.startswith("0.texture_disc.")}
    assert len(disc) == 2 * len(create_discriminator("patch").state_dict())
    groups = state["optimizer"]["param_groups"]  # model, discriminators, white-balance gains
    assert len(groups) == 3 and groups[1]["betas"] == (0.5, 0.99) and groups[2]["initial_lr"] == 0.02
    assert groups[1]["initial_lr"] == 5e-4
    assert len(groups[1]["params"]) == 2 * len(list(create_discriminator("patch").parameters()))
    assert all(i in state["optimizer"]["state"] for i in groups[1]["params"])  # D's Adam moments are saved
    assert training_mode(state["config"]) == "unpaired"


def test_resume_is_exact_for_both_networks(tmp_path):
    cfg = config(steps=4, pairs=3)
    train(cfg, tmp_path / "full", progress=False)
    train(cfg, tmp_path / "cut", stop_after=2, progress=False)
    train(cfg, tmp_path / "cut", resume=True, progress=False)
    full, cut = (torch.load(tmp_path / r / "checkpoints/last.pt", weights_only=True) for r in ("full", "cut"))
    for key in ("model", "objectives"):
        for name, value in full[key].items():
            assert torch.equal(value, cut[key][name]), (key, name)
    assert training_mode(full["config"]) == "semi-supervised (3 pairs + unpaired)"


def test_semi_supervised_pairs_are_fixed_aligned_crops_of_the_raw_photos():
    cfg = config(pairs=3)
    objective = build(cfg, create_model("mialgo_3conv"))
    raw, rgb = objective.pairs.raw, objective.pairs.rgb
    assert raw.shape == (3, 4, 16, 16) and rgb.shape == (3, 3, 32, 32)
    # aligned: the classical rendering of each pair's raw resembles its own target more than another's
    def centred(x):  # luma, zero mean, unit norm: correlation compares structure, not colour
        y = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).flatten(1)
        y = y - y.mean(1, keepdim=True)
        return y / y.norm(dim=1, keepdim=True)

    correlation = centred(objective.reference(raw).detach()) @ centred(rgb).T
    assert torch.equal(correlation.argmax(dim=1), torch.arange(3)), correlation
    a, b = objective.pairs.batch(5, 4), objective.pairs.batch(5, 4)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_training_mode_of_configs():
    assert training_mode({"stages": [{"objective": {"name": "supervised"}}]}) == "paired"
    assert training_mode({}) == "paired"
    assert training_mode({"stages": [{"objective": {"name": "unpaired", "kwargs": {}}}]}) == "unpaired"
