"""Backends for :func:`isplab.develop.tiling.run_tiled`: a ``.tflite`` file (here), a PyTorch checkpoint or
the classical ISP (:mod:`.torch_runners`). Each is a :class:`~isplab.develop.tiling.Runner`: packed
``(1, 4, th, tw)`` float32 -> RGB ``(1, 3, 2th, 2tw)`` float32.

Runners may depend on the frame (the classical ISP's grey-world gains must come from the whole frame,
not from each tile, or the tiles would differ in colour): :meth:`for_image` returns the runner to use
on one frame. :func:`load_runner` picks the backend from the ``--weights`` value; the TFLite path imports
no torch, so developing with a ``.tflite`` starts in a fraction of a second.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from isplab.camera.profile import RawDomain, stored_domain
from isplab.errors import IsplabError
from isplab.raw.readers import RawImage
from isplab.runtime.litert import LiteRTError, LiteRTModel

#: ``--weights`` value selecting the classical reference ISP.
CLASSIC = "classic"


class TfliteRunner:
    """A ``.tflite`` (NHWC ``[1, h, w, 4] -> [1, 2h, 2w, 3]``) on the LiteRT CPU interpreter
    (:class:`~isplab.runtime.litert.LiteRTModel`, allocated once per tile shape).

    ``resize`` (default: yes) lets the interpreter take any tile size; with ``resize=False`` the file's own
    input size is the tile size (edge tiles are reflect-padded). A graph that cannot be resized (isplab's
    optimised exports are built for one size) is found out here, by trying the tile it will be given
    (``tile``, else the default), and then runs at its own size as with ``resize=False``. The default tile
    is 256: LiteRT's arena grows with the input (about 4 KB per packed pixel for the official MicroISP
    file), and 256 was also faster on a 2-core CPU (``benchmarks/results/develop_12mp.md``).
    """

    default_tile = 256

    def __init__(self, path: str | Path, resize: bool = True, num_threads: int = 2, tile: int | None = None):
        try:
            self.model = LiteRTModel(path, num_threads)
        except LiteRTError as exc:
            raise IsplabError(f"{exc}. Pass a .tflite written by `isplab export`") from None
        shape = self.model.file_shape
        if len(shape) != 4 or shape[3] != 4:
            raise IsplabError(f"{path}: input shape {list(shape)} is not NHWC packed raw [1, h, w, 4]")
        own, side = (shape[1], shape[2]), tile or self.default_tile
        if self.model.dynamic:
            self.fixed_size = None
        elif resize and (side, side) != own:
            self.fixed_size = None if self.model.resizable((1, side, side, 4)) else own
        else:  # --no-resize, or tiles of the file's own size anyway
            self.fixed_size = own
        self.name = f"{Path(path).name} (TFLite)"
        self.path = Path(path)

    @cached_property
    def domain(self) -> RawDomain | None:
        """The raw domain stored by ``isplab export`` (the camera adapter maps frames into it), or ``None``;
        read on first use, so ``--no-adapt`` develops even a file whose entry this isplab cannot read."""
        return stored_domain(self.path)

    def for_image(self, image: RawImage | None, packed: np.ndarray) -> TfliteRunner:
        return self

    def __call__(self, tile: np.ndarray) -> np.ndarray:
        try:
            y = self.model.run_view(tile.transpose(0, 2, 3, 1))
        except LiteRTError as exc:
            hint = "" if self.fixed_size else ". Develop with --no-resize (tiles of the file's own size)"
            raise IsplabError(f"{self.name}: {exc}{hint}") from None
        return y.transpose(0, 3, 1, 2)  # a view of the interpreter's output: the blend reads it once


def load_runner(weights: str | Path, resize: bool = True, num_threads: int = 2, tile: int | None = None) -> Any:
    """``'classic'`` -> :class:`~.torch_runners.ClassicRunner`; ``*.tflite`` -> :class:`TfliteRunner` (``tile``:
    the tile side it will be given, to find out whether the file can run there); else a checkpoint
    (:class:`~.torch_runners.TorchRunner`)."""
    if str(weights) == CLASSIC:
        from isplab.develop.torch_runners import ClassicRunner

        return ClassicRunner()
    if Path(weights).suffix.lower() == ".tflite":
        return TfliteRunner(weights, resize=resize, num_threads=num_threads, tile=tile)
    from isplab.develop.torch_runners import TorchRunner

    return TorchRunner.from_checkpoint(weights)
