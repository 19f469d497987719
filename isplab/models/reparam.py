"""One call to fuse every re-parameterisable block of a model for inference/export."""

from __future__ import annotations

import torch
from torch import nn


def _fuse(module: nn.Module) -> int:
    """Fuse ``module`` if it can fuse itself (it then owns its subtree), else recurse. Returns #fused."""
    fuse = getattr(module, "reparameterize", None)
    if callable(fuse):
        fuse()
        return 1
    return sum(_fuse(child) for child in list(module.children()))


@torch.no_grad()
def reparameterize(model: nn.Module) -> nn.Module:
    """Fuse, in place, every block that has a ``reparameterize()`` method; returns ``model`` in eval mode.

    Train-time multi-branch blocks (ECB, eRepConv, SRB, ...) become single convs; in eval mode the
    fused model's output equals the unfused one to float rounding (~1e-6). Idempotent. The export code
    calls this before tracing. A block's ``reparameterize()`` is responsible for its own children, so
    the walk does not descend into a block that fused itself.
    """
    model.eval()
    _fuse(model)
    return model
