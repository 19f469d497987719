"""Activation factory shared by the blocks (name -> module), so configs can name activations."""

from __future__ import annotations

from torch import nn


def make_activation(name: str, channels: int = 1) -> nn.Module:
    """Build an activation by name: ``relu``, ``lrelu`` (slope 0.05, as RFDN), ``prelu``, ``linear``.

    ``channels`` sizes the per-channel PReLU slope (ECBSR uses one slope per output channel).
    """
    name = name.lower()
    if name == "relu":
        return nn.ReLU(inplace=False)
    if name == "lrelu":
        return nn.LeakyReLU(0.05)
    if name == "prelu":
        return nn.PReLU(num_parameters=channels)
    if name in ("linear", "identity", "none"):
        return nn.Identity()
    raise ValueError(f"unknown activation {name!r}; use relu, lrelu, prelu or linear")
