"""Develop real raw photos at full resolution: tiled, seam-free inference with a PyTorch checkpoint, a
``.tflite`` or the classical ISP (:mod:`.tiling`, :mod:`.runners`, :mod:`.torch_runners`), written
atomically with the settings embedded while the model still runs (:mod:`.writer`), many files at once
(:mod:`.pipeline`), and a visual comparison report (:mod:`.compare`). See ``docs/develop.md``.

Attributes load lazily: the TFLite path never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule that defines it
_EXPORTS = {
    "DevelopSettings": "pipeline", "DevelopSummary": "pipeline", "develop_file": "pipeline",
    "develop_image": "pipeline", "develop_many": "pipeline",
    "TfliteRunner": "runners", "load_runner": "runners",
    "ClassicRunner": "torch_runners", "TorchRunner": "torch_runners",
    "Runner": "tiling", "plan_tiles": "tiling", "run_tiled": "tiling", "tiled_bands": "tiling",
    "write_image": "writer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'isplab.develop' has no attribute {name!r}")
    return getattr(importlib.import_module(f"isplab.develop.{_EXPORTS[name]}"), name)
