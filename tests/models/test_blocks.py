"""Shared building blocks: shapes, gradients, re-parameterisation, wavelets, gradient reversal."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from isplab.models.blocks import (
    CBAM,
    CSA,
    ECA,
    ECB,
    ESA,
    RFDB,
    SRB,
    ChannelAttention,
    ERepConv,
    GradientReversal,
    HaarDWT,
    HaarIDWT,
    ResidualBlock,
    ResidualGroup,
    SpatialAttention,
    erep_kernel_shapes,
    make_activation,
)
from isplab.models.reparam import reparameterize

C = 6

SHAPE_PRESERVING = {
    "channel_attention": lambda: ChannelAttention(C, reduction=2),
    "channel_attention_max": lambda: ChannelAttention(C, reduction=2, use_max=True),
    "spatial_attention": lambda: SpatialAttention(7),
    "cbam": lambda: CBAM(C, reduction=2),
    "eca": lambda: ECA(C, k_size=3),
    "esa": lambda: ESA(C),
    "csa": lambda: CSA(C),
    "residual_block": lambda: ResidualBlock(C),
    "rcab": lambda: ResidualBlock(C, attention=True, reduction=2),
    "residual_group": lambda: ResidualGroup(C, n_blocks=2, reduction=2),
    "srb": lambda: SRB(C),
    "rfdb_esa": lambda: RFDB(C),
    "rfdb_csa": lambda: RFDB(C, attention=CSA),
    "rfdb_plain": lambda: RFDB(C, attention=None),
    "ecb_idt": lambda: ECB(C, C, with_idt=True),
    "erepconv_idt": lambda: ERepConv(C, C, 5, with_idt=True),
}

REPARAM = {
    "ecb": lambda: ECB(4, 8),
    "ecb_idt_relu": lambda: ECB(C, C, depth_multiplier=1.0, act="relu", with_idt=True),
    "ecb_linear": lambda: ECB(3, 3, act="linear"),
    "erepconv5": lambda: ERepConv(4, 8, 5),
    "erepconv5_idt": lambda: ERepConv(C, C, 5, act="relu", with_idt=True),
    "erepconv3": lambda: ERepConv(C, 3, 3),
    "srb": lambda: SRB(C),
    "rfdb": lambda: RFDB(C, attention=CSA),
}


def _randomise(module: nn.Module, std: float = 0.3) -> nn.Module:
    """Non-trivial weights everywhere (ECB's mask scales start at 1e-3)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * std)
    return module


@pytest.mark.parametrize("name", sorted(SHAPE_PRESERVING))
def test_shape_and_finite_gradients(name: str) -> None:
    block = SHAPE_PRESERVING[name]()
    x = torch.rand(2, C, 9, 12, requires_grad=True)
    y = block(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, p in block.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("block", [
    ChannelAttention(3, reduction=1), SpatialAttention(3), ECA(3), ECB(2, 3),
    ERepConv(2, 2, 3, with_idt=True), HaarDWT(3), HaarIDWT(1),
], ids=lambda b: type(b).__name__)
def test_gradcheck(block: nn.Module) -> None:
    block = block.double()
    channels = 4 if isinstance(block, HaarIDWT) else (2 if isinstance(block, ECB | ERepConv) else 3)
    x = torch.rand(1, channels, 4, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", sorted(REPARAM))
def test_reparameterize_matches_unfused(name: str) -> None:
    block = _randomise(REPARAM[name]())
    x = torch.rand(2, block.in_ch if hasattr(block, "in_ch") else C, 7, 10)
    block.eval()
    with torch.no_grad():
        before = block(x)
        fused = reparameterize(block)
        after = fused(x)
    assert fused is block and not block.training
    assert (after - before).abs().max().item() <= 1e-5
    reparameterize(block)  # idempotent
    with torch.no_grad():
        assert torch.equal(block(x), after)


@pytest.mark.parametrize("factory", [lambda: ECB(4, 8), lambda: ERepConv(4, 8, 5)])
def test_fused_block_is_one_conv(factory) -> None:
    block = reparameterize(factory())
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 1 and convs[0].kernel_size in ((3, 3), (5, 5))


def test_reparameterize_walks_nested_models() -> None:
    inner = nn.Sequential(ERepConv(8, 8, 5, with_idt=True), SRB(8))
    model = _randomise(nn.Sequential(ECB(4, 8), inner), std=0.1)
    x = torch.rand(1, 4, 8, 8)
    model.eval()
    with torch.no_grad():
        before = model(x)
        after = reparameterize(model)(x)
    assert (after - before).abs().max().item() <= 1e-5
    assert all(not hasattr(m, "branches") for m in model.modules())


def test_erepconv_has_ten_branches_for_5x5() -> None:
    assert len(erep_kernel_shapes(5)) == 9
    assert len(ERepConv(4, 4, 5).branches) == 10
    with pytest.raises(ValueError):
        ERepConv(4, 4, 4)


def test_haar_perfect_reconstruction() -> None:
    x = torch.rand(2, 3, 10, 14)
    y = HaarDWT(3)(x)
    assert y.shape == (2, 12, 5, 7)
    assert (HaarIDWT(3)(y) - x).abs().max().item() <= 1e-6
    # orthonormal: energy is preserved
    assert torch.allclose(y.square().sum(), x.square().sum(), rtol=1e-5)


def test_haar_band_layout() -> None:
    x = torch.tensor([[0.0, 1.0], [2.0, 3.0]]).reshape(1, 1, 2, 2).repeat(1, 2, 1, 1)
    x[:, 1] *= 10
    y = HaarDWT(2)(x).flatten()
    # per band: [LL_c0, LL_c1, LH_c0, LH_c1, HL_c0, HL_c1, HH_c0, HH_c1]
    expected = torch.tensor([3.0, 30.0, -2.0, -20.0, -1.0, -10.0, 0.0, 0.0])
    assert torch.allclose(y, expected)


def test_gradient_reversal() -> None:
    x = torch.rand(3, 4, requires_grad=True)
    layer = GradientReversal(lambda_=0.5)
    y = layer(x)
    assert torch.equal(y, x)
    (y * 2.0).sum().backward()
    assert torch.allclose(x.grad, torch.full_like(x, -1.0))


def test_unknown_activation() -> None:
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("swishy")
