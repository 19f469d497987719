"""Backends for :func:`isplab.develop.tiling.run_tiled`: a PyTorch checkpoint, a ``.tflite`` file, or the
classical ISP. Each is a :class:`~isplab.develop.tiling.Runner`: packed ``(1, 4, th, tw)`` float32 ->
RGB ``(1, 3, 2th, 2tw)`` float32.

Runners may depend on the frame (the classical ISP's grey-world gains must come from the whole frame,
not from each tile, or the tiles would differ in colour): :meth:`for_image` returns the runner to use
on one frame. :func:`load_runner` picks the backend from the ``--weights`` value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from isplab.classic import ClassicISP, grey_world_gains
from isplab.errors import IsplabError, first_line
from isplab.export.parity import to_tensor_dtype  # shared with the parity proof's runner
from isplab.models.ops import finest_output
from isplab.raw.readers import RawImage

#: ``--weights`` value selecting the classical reference ISP.
CLASSIC = "classic"


class TorchRunner:
    """An ``nn.Module`` (or an isplab checkpoint) run in eval mode without gradients."""

    fixed_size = None
    default_tile = 512

    def __init__(self, model: nn.Module, name: str = "torch"):
        self.model, self.name = model.eval(), name

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> TorchRunner:
        from isplab.train.checkpoint import load_model_from_checkpoint

        model, state = load_model_from_checkpoint(path)
        return cls(model, f"{state['model_name']} ({Path(path).name}, PyTorch)")

    def for_image(self, image: RawImage | None, packed: np.ndarray) -> TorchRunner:
        return self

    @torch.no_grad()
    def __call__(self, tile: np.ndarray) -> np.ndarray:
        return finest_output(self.model(torch.from_numpy(tile))).float().numpy()


class TfliteRunner:
    """A single-input ``.tflite`` (NHWC ``[1, h, w, 4] -> [1, 2h, 2w, 3]``) on the LiteRT CPU interpreter.

    ``resize`` (default: yes) lets the interpreter take any tile size via ``resize_tensor_input``; with
    ``resize=False`` the file's own input size is the tile size (edge tiles are reflect-padded).
    The default tile is 256: LiteRT's arena grows with the input (about 4 KB per packed pixel for
    MicroISP, ~1 GB at 512x512), and 256 was also faster on a 2-core CPU
    (``benchmarks/results/develop_12mp.md``).
    """

    default_tile = 256

    def __init__(self, path: str | Path, resize: bool = True, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        if not path.is_file():
            raise IsplabError(f"{path}: .tflite not found. Pass a file written by `isplab export`")
        try:
            self.interp = Interpreter(model_path=str(path), num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise IsplabError(f"{path}: the TFLite runtime cannot load this file ({first_line(exc)}). "
                              "See `isplab inspect` for the offending op") from None
        self.input, self.output = self.interp.get_input_details()[0], self.interp.get_output_details()[0]
        shape = tuple(int(v) for v in self.input["shape"])
        if len(shape) != 4 or shape[3] != 4:
            raise IsplabError(f"{path}: input shape {list(shape)} is not NHWC packed raw [1, h, w, 4]")
        dynamic = any(int(v) < 0 for v in self.input.get("shape_signature", shape))
        self.fixed_size = None if resize or dynamic else (shape[1], shape[2])
        self.name, self._shape = f"{path.name} (TFLite)", None

    def for_image(self, image: RawImage | None, packed: np.ndarray) -> TfliteRunner:
        return self

    def __call__(self, tile: np.ndarray) -> np.ndarray:
        x = tile.transpose(0, 2, 3, 1)
        try:
            if self._shape != x.shape:
                if tuple(self.input["shape"]) != x.shape:
                    self.interp.resize_tensor_input(self.input["index"], list(x.shape), strict=False)
                self.interp.allocate_tensors()
                self._shape = x.shape
            self.interp.set_tensor(self.input["index"], to_tensor_dtype(np.ascontiguousarray(x), self.input))
            self.interp.invoke()
        except (ValueError, RuntimeError) as exc:
            raise IsplabError(f"{self.name}: the TFLite runtime failed on a {list(x.shape)} tile "
                              f"({first_line(exc)}). Try --no-resize or another --tile") from None
        y = self.interp.get_tensor(self.output["index"])
        if y.dtype != np.float32:
            scale, zero = self.output["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return np.ascontiguousarray(y.transpose(0, 3, 1, 2), dtype=np.float32)


class ClassicRunner:
    """The classical ISP with frame-level white balance: the camera's as-shot gains and colour matrix when
    the file has them, else grey-world gains measured on the whole frame (never per tile)."""

    fixed_size = None
    default_tile = 512
    name = "classical ISP"

    def __init__(self, isp: ClassicISP | None = None):
        self.isp = isp

    def for_image(self, image: RawImage | None, packed: np.ndarray) -> ClassicRunner:
        wb = image.wb_gains if image is not None else None
        ccm = image.cam_to_srgb if image is not None else None
        if wb is None:
            wb = grey_world_gains(torch.from_numpy(np.ascontiguousarray(packed))[None])[0]
        return ClassicRunner(ClassicISP(wb_gains=np.asarray(wb, dtype=np.float32), ccm=ccm))

    @torch.no_grad()
    def __call__(self, tile: np.ndarray) -> np.ndarray:
        if self.isp is None:
            raise RuntimeError("ClassicRunner needs for_image() before running tiles")
        return self.isp(torch.from_numpy(tile)).numpy()


def load_runner(weights: str | Path, resize: bool = True, num_threads: int = 2
                ) -> TorchRunner | TfliteRunner | ClassicRunner:
    """``'classic'`` -> :class:`ClassicRunner`; ``*.tflite`` -> :class:`TfliteRunner`; else a checkpoint."""
    if str(weights) == CLASSIC:
        return ClassicRunner()
    if Path(weights).suffix.lower() == ".tflite":
        return TfliteRunner(weights, resize=resize, num_threads=num_threads)
    return TorchRunner.from_checkpoint(weights)

