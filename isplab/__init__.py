"""isplab: learned camera ISPs, from raw Bayer data to RGB, trained and scored like the MAI 2022 challenge.

The package face is lazy: ``import isplab`` loads no torch; ``isplab.create_model`` and friends import the
model registry on first use (so ``isplab --help`` and the LiteRT-only paths start fast).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it, imported on first access
_LAZY = {"count_parameters": "isplab.models", "create_model": "isplab.models", "list_models": "isplab.models"}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'isplab' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
