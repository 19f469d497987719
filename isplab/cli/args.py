"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
import re


def parse_size(text: str) -> tuple[int, int]:
    """``"544x960"`` (or ``544,960``) -> ``(544, 960)``: packed raw input height x width."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX,]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use HxW with positive sides, e.g. 544x960")
    return int(m.group(1)), int(m.group(2))
