"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
import math
import re

from isplab.errors import quote


def parse_size(text: str) -> tuple[int, int]:
    """``"544x960"`` (or ``544,960``) -> ``(544, 960)``: packed raw input height x width."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX,]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use HxW with positive sides, e.g. 544x960")
    return int(m.group(1)), int(m.group(2))


def finite_float(text: str) -> float:
    """A float option's value: any finite number (``nan``, ``inf`` would pass ``float()`` and poison levels,
    budgets and rates downstream)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {quote(text)}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {quote(text)}")
    return value


class Parser(argparse.ArgumentParser):
    """``argparse`` with usage errors that quote a value cut short (a pasted megabyte stays off the terminal)."""

    def error(self, message: str):  # type: ignore[override]
        super().error(re.sub(r"'([^']{80,})'", lambda m: quote(m.group(1)), message))


# Literal copies of isplab.train.device.DEVICES / AMP_MODES: building a parser must not import torch
# (tests/train/test_device.py checks they match).
DEVICES = ("auto", "cpu", "cuda")
AMP_MODES = ("none", "bf16", "fp16")


def add_device_arguments(p: argparse.ArgumentParser, amp: bool = True, default: str | None = None) -> None:
    """``--device`` (and ``--amp``): where the torch model computes, at what precision (docs/training.md).

    ``default`` None: the options override a training config's ``device``/``amp`` only when given."""
    device_default = "the config's, auto unless set" if default is None else default
    p.add_argument("--device", choices=DEVICES, default=default,
                   help="auto (a GPU when torch sees one, else the CPU), cpu or cuda (under torchrun: "
                        f"cuda:LOCAL_RANK); default: {device_default}")
    if amp:
        amp_default = "the config's, none unless set" if default is None else "none"
        p.add_argument("--amp", choices=AMP_MODES,
                       help="mixed precision of the forward pass and loss: none, bf16 or fp16 (with a gradient "
                            f"scaler); default: {amp_default}")
