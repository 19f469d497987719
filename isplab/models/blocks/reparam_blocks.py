"""Re-parameterisable multi-branch convolutions: ECB (ECBSR) and eRepConv (team Multimedia).

Both train as a sum of linear branches and fuse, via ``reparameterize()``, into one ``kxk`` conv (plus
the block's activation) with identical eval output. Sequential ``1x1 -> kxk`` branches pad the *input*
with zeros before the 1x1 conv, so the border of the intermediate map equals the 1x1 bias; that makes
the fusion exact at image borders too (ECBSR pads the intermediate with its bias for the same reason).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from isplab.models.blocks.act import make_activation

SOBEL_X = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def pad_kernel(weight: torch.Tensor, k: int) -> torch.Tensor:
    """Zero-pad a ``(O, I, kh, kw)`` kernel (odd sizes) centrally to ``(O, I, k, k)``."""
    ph, pw = (k - weight.shape[-2]) // 2, (k - weight.shape[-1]) // 2
    return F.pad(weight, (pw, pw, ph, ph))


def identity_kernel(channels: int, k: int) -> torch.Tensor:
    """``(C, C, k, k)`` kernel of the identity map (1 at the centre of the diagonal)."""
    w = torch.zeros(channels, channels, k, k)
    w[torch.arange(channels), torch.arange(channels), k // 2, k // 2] = 1.0
    return w


class SeqConv(nn.Module):
    """``1x1 (in -> mid) -> kxk (mid -> out)`` with no non-linearity in between, fusable to one kxk.

    ``mask`` (``(k, k)``, e.g. Sobel) makes the kxk stage a fixed depthwise filter with a learnable
    per-channel scale and bias (ECBSR's ``1x1-sobel`` / ``1x1-laplacian``; then ``mid == out``).
    Shapes: ``(N, in, H, W) -> (N, out, H, W)``.
    """

    def __init__(self, in_ch: int, out_ch: int, mid_ch: int, k: int = 3, mask: torch.Tensor | None = None):
        super().__init__()
        self.k = k
        self.conv1 = nn.Conv2d(in_ch, out_ch if mask is not None else mid_ch, 1)
        if mask is None:
            self.conv2 = nn.Conv2d(mid_ch, out_ch, k)
        else:
            self.register_buffer("mask", mask.reshape(1, 1, k, k).clone())
            self.scale = nn.Parameter(torch.randn(out_ch, 1, 1, 1) * 1e-3)
            self.bias = nn.Parameter(torch.randn(out_ch) * 1e-3)

    def _second_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense ``(out, mid, k, k)`` kernel and bias of the second stage."""
        if hasattr(self, "conv2"):
            return self.conv2.weight, self.conv2.bias
        out = self.scale.shape[0]
        dense = torch.zeros(out, out, self.k, self.k, device=self.scale.device, dtype=self.scale.dtype)
        dense[torch.arange(out), torch.arange(out)] = (self.scale * self.mask)[:, 0]
        return dense, self.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.k // 2
        y = self.conv1(F.pad(x, (p, p, p, p)))
        if hasattr(self, "conv2"):
            return self.conv2(y)
        return F.conv2d(y, self.scale * self.mask, self.bias, groups=y.shape[1])

    def fused_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Equivalent single ``(out, in, k, k)`` kernel and ``(out,)`` bias."""
        w1, b1 = self.conv1.weight[:, :, 0, 0], self.conv1.bias
        w2, b2 = self._second_kernel()
        return torch.einsum("omhw,mi->oihw", w2, w1), b2 + torch.einsum("omhw,m->o", w2, b1)


class _FusableSum(nn.Module):
    """Base: a sum of linear branches (``self.branches``) + activation, fusable into ``self.fused``."""

    in_ch: int
    out_ch: int
    k: int
    with_idt: bool

    def _branch_kernel(self, branch: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(branch, SeqConv):
            return branch.fused_kernel()
        return pad_kernel(branch.weight, self.k), branch.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            return self.act(self.fused(x))
        y = sum(b(x) for b in self.branches)
        return self.act(y + x if self.with_idt else y)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold every branch (and the identity) into one ``kxk`` conv, in place."""
        if self.fused is not None:
            return
        kernels = [self._branch_kernel(b) for b in self.branches]
        weight = sum(w for w, _ in kernels)
        bias = sum(b for _, b in kernels)
        if self.with_idt:
            weight = weight + identity_kernel(self.out_ch, self.k).to(weight)
        self.fused = nn.Conv2d(self.in_ch, self.out_ch, self.k, padding=self.k // 2).to(weight)
        self.fused.weight.copy_(weight)
        self.fused.bias.copy_(bias)
        del self.branches


class ECB(_FusableSum):
    """Edge-oriented convolution block (ECBSR, Zhang et al. 2021), the ``ECB/Conv3`` of RFD-CSA.

    Branches: 3x3; 1x1 -> 3x3 (``mid = depth_multiplier * out``); 1x1 -> Sobel-x; 1x1 -> Sobel-y;
    1x1 -> Laplacian; plus identity when ``in_ch == out_ch`` and ``with_idt``. Then ``act``.
    ``reparameterize()`` fuses everything into one 3x3 conv (+ act). ``(N, in, H, W) -> (N, out, H, W)``.
    """

    def __init__(
        self, in_ch: int, out_ch: int, depth_multiplier: float = 2.0, act: str = "prelu",
        with_idt: bool = False,
    ):
        super().__init__()
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, 3
        self.with_idt = with_idt and in_ch == out_ch
        mid = max(1, int(out_ch * depth_multiplier))
        self.branches = nn.ModuleList([
            nn.Conv2d(in_ch, out_ch, 3, padding=1),
            SeqConv(in_ch, out_ch, mid),
            SeqConv(in_ch, out_ch, out_ch, mask=SOBEL_X),
            SeqConv(in_ch, out_ch, out_ch, mask=SOBEL_X.t()),
            SeqConv(in_ch, out_ch, out_ch, mask=LAPLACIAN),
        ])
        self.fused: nn.Conv2d | None = None
        self.act = make_activation(act, out_ch)


def erep_kernel_shapes(kernel_size: int) -> list[tuple[int, int]]:
    """Parallel conv shapes of an eRepConv: every ``(kh, kw)`` with odd ``kh, kw <= kernel_size``.

    For ``kernel_size=5``: 1x1, 1x3, 1x5, 3x1, 3x3, 3x5, 5x1, 5x3, 5x5 (nine); with the extra sequential
    ``1x1 -> kxk`` branch that makes the report's ten convolution branches "from 1x1 to 5x5".
    """
    sizes = range(1, kernel_size + 1, 2)
    return [(kh, kw) for kh in sizes for kw in sizes]


class ERepConv(_FusableSum):
    """Team Multimedia's eRepConv ("enormous re-parameter convolution", report section 4.2).

    Training: the convs of :func:`erep_kernel_shapes` (square and asymmetric, 1x1 up to kxk) in
    parallel plus one ``1x1 -> kxk`` sequential branch (ten branches for ``k=5``), summed, plus identity
    when ``with_idt`` and ``in_ch == out_ch``; no BatchNorm (not stated in the report). Inference: one
    kxk conv after ``reparameterize()``. ``act`` defaults to none (the team's figure leaves the
    non-linearity to the surrounding network). ``(N, in, H, W) -> (N, out, H, W)``.
    """

    def __init__(
        self, in_ch: int, out_ch: int, kernel_size: int = 5, act: str = "linear", with_idt: bool = False,
        mid_ch: int | None = None,
    ):
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("eRepConv needs an odd kernel size")
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, kernel_size
        self.with_idt = with_idt and in_ch == out_ch
        convs: list[nn.Module] = [
            nn.Conv2d(in_ch, out_ch, (kh, kw), padding=(kh // 2, kw // 2))
            for kh, kw in erep_kernel_shapes(kernel_size)
        ]
        if kernel_size > 1:
            convs.append(SeqConv(in_ch, out_ch, mid_ch or out_ch, k=kernel_size))
        self.branches = nn.ModuleList(convs)
        self.fused: nn.Conv2d | None = None
        self.act = make_activation(act, out_ch)
