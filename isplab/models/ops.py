"""Small tensor ops shared by the models."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _depth_to_space_nchw(x: torch.Tensor, block: int) -> torch.Tensor:
    n, c, h, w = x.shape
    c_out = c // (block * block)
    x = x.reshape(n, block, block, c_out, h, w)
    x = x.permute(0, 3, 4, 1, 5, 2)
    return x.reshape(n, c_out, h * block, w * block)


# Exported graphs carry depth_to_space as opaque ops: ``isplab::depth_to_space`` (NCHW) is what models
# trace to; litert-torch's layout pass moves it to NHWC as ``isplab::depth_to_space_nhwc`` (like a
# convolution, so no transposes appear around it and the ops after it stay NHWC), which lowers to one
# TFLite DEPTH_TO_SPACE (see isplab.export.lowerings). Any reshape/permute formulation would instead reach
# the graph as RESHAPE/TRANSPOSE (rank 6, or several rank-4 ones), which the mobile GPU delegate rejects or
# runs slowly.
@torch.library.custom_op("isplab::depth_to_space", mutates_args=())
def depth_to_space_nchw_op(x: torch.Tensor, block: int) -> torch.Tensor:
    """:func:`depth_to_space` as an opaque op (NCHW in and out)."""
    return _depth_to_space_nchw(x, block).clone()  # custom ops may not return views


@depth_to_space_nchw_op.register_fake
def _(x: torch.Tensor, block: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.new_empty(n, c // (block * block), h * block, w * block)


@torch.library.custom_op("isplab::depth_to_space_nhwc", mutates_args=())
def depth_to_space_nhwc(x: torch.Tensor, block: int) -> torch.Tensor:
    """TensorFlow ``tf.nn.depth_to_space`` on NHWC: ``(N, H, W, C * block**2)`` -> ``(N, H*b, W*b, C)``."""
    n, h, w, c = x.shape
    c_out = c // (block * block)
    x = x.reshape(n, h, w, block, block, c_out).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h * block, w * block, c_out).clone()  # custom ops may not return views


@depth_to_space_nhwc.register_fake
def _(x: torch.Tensor, block: int) -> torch.Tensor:
    n, h, w, c = x.shape
    return x.new_empty(n, h * block, w * block, c // (block * block))


def depth_to_space(x: torch.Tensor, block: int = 2) -> torch.Tensor:
    """TensorFlow ``depth_to_space`` (DCR channel order) on NCHW tensors.

    Input channel ``(by * block + bx) * C_out + c`` lands at output pixel offset ``(by, bx)``,
    channel ``c``. This differs from ``nn.PixelShuffle`` (CRD order, ``c * block**2 + by * block + bx``)
    and is what official TensorFlow models (MicroISP, PyNET-V2) use, so their weights import as-is.

    Eager (training, inference) runs a reshape/permute. Under ``torch.export`` (what litert-torch
    traces) it is the opaque ``isplab::depth_to_space`` op instead, with identical values, so the
    exported TFLite graph holds a single ``DEPTH_TO_SPACE`` op and no tensor above rank 4.

    Args:
        x: ``(N, C * block**2, H, W)``.

    Returns:
        ``(N, C, H * block, W * block)``.
    """
    if torch.compiler.is_exporting():
        return depth_to_space_nchw_op(x, block)
    return _depth_to_space_nchw(x, block)


class DepthToSpace(nn.Module):
    """Module form of :func:`depth_to_space` (TensorFlow DCR order)."""

    def __init__(self, block: int = 2):
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depth_to_space(x, self.block)


class DepthToSpaceConcat(nn.Module):
    """``planes`` (each ``(N, C * block**2, H, W)``) -> each :func:`depth_to_space`, concatenated on channels
    (``(N, len(planes) * C, H*b, W*b)``): MicroISP's output stage. A module so the export optimiser can find
    it (``concat-depth-to-space`` rewrites it into the order Qualcomm's HTP computes correctly)."""

    def __init__(self, block: int, planes: int, channels: int = 1):
        super().__init__()
        self.block, self.planes, self.channels = block, planes, channels

    def forward(self, planes: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([depth_to_space(p, self.block) for p in planes], dim=1)


def finest_output(out: Any) -> torch.Tensor:
    """The highest-resolution image tensor of a model's output.

    Plain tensors pass through; multi-level outputs (tuples, lists, dicts of tensors, as PyNET-style
    models return) give the one with the largest ``H * W`` (the first on ties).
    """
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, dict):
        items = list(out.values())
    else:
        items = list(out) if isinstance(out, list | tuple) else []
    tensors = [finest_output(o) for o in items if isinstance(o, torch.Tensor | list | tuple | dict)]
    if not tensors:
        raise TypeError(f"model output of type {type(out).__name__} holds no tensor")
    return max(tensors, key=lambda t: t.shape[-2] * t.shape[-1])


# ---- fixed filters (used by models and losses) ----------------------------------------------------


def gauss_kernel(size: int = 5, sigma: float = 1.0) -> torch.Tensor:
    """Normalised 2-D Gaussian, shape ``(1, size, size)``."""
    r = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g2 = torch.outer(g, g)
    return (g2 / g2.sum()).unsqueeze(0)


def sobel_kernels() -> torch.Tensor:
    """Sobel x and y kernels, shape ``(2, 3, 3)``."""
    gx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    return torch.stack([gx, gx.t()])
