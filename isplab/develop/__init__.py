"""Develop real raw photos at full resolution: tiled, seam-free inference with a PyTorch checkpoint, a
``.tflite`` or the classical ISP (:mod:`.tiling`, :mod:`.runners`), written atomically with the settings
embedded (:mod:`.writer`), many files at once (:mod:`.pipeline`), and a visual comparison report
(:mod:`.compare`). See ``docs/develop.md``.
"""

from isplab.develop.pipeline import DevelopSettings, DevelopSummary, develop_file, develop_image, develop_many
from isplab.develop.runners import ClassicRunner, TfliteRunner, TorchRunner, load_runner
from isplab.develop.tiling import Runner, plan_tiles, run_tiled
from isplab.develop.writer import write_image

__all__ = [
    "ClassicRunner",
    "DevelopSettings",
    "DevelopSummary",
    "Runner",
    "TfliteRunner",
    "TorchRunner",
    "develop_file",
    "develop_image",
    "develop_many",
    "load_runner",
    "plan_tiles",
    "run_tiled",
    "write_image",
]
