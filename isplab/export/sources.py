"""What an export is made from: the model (a checkpoint or a freshly initialised registered model), and the
calibration / parity data taken from dataset folders and raw files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from isplab.camera.profile import RawDomain
from isplab.errors import IsplabError
from isplab.raw.readers import RawImage

#: Dataset patches used to calibrate int8 activation ranges, and to prove fp16/int8 against targets.
CALIB_SAMPLES, PARITY_SAMPLES = 64, 8


def load_export_model(weights: str | Path | None, model_name: str | None
                      ) -> tuple[nn.Module, str, RawDomain | None]:
    """``(model in eval mode, name, raw domain)`` from a checkpoint (``weights``; the domain it was trained
    in), or a freshly initialised registered model (``model_name`` alone, no domain: for size and runtime
    tests)."""
    if weights:
        from isplab.models.weights import load_model_from_checkpoint, raw_domain

        model, state = load_model_from_checkpoint(weights)
        if model_name and model_name != state["model_name"]:
            raise IsplabError(f"{weights}: holds a {state['model_name']!r} model, not {model_name!r}. "
                              "Drop --model or pass the matching checkpoint")
        return model, state["model_name"], raw_domain(state, weights)
    if not model_name:
        raise IsplabError("nothing to export: pass --weights CKPT, or --model NAME for a freshly initialised "
                          "model (see `isplab models`)")
    from isplab.models import create_model

    return create_model(model_name).eval(), model_name, None


def dataset_items(folder: str | Path, count: int, skip: set[int] | None = None) -> tuple[list[Any], set[int]]:
    """``count`` evenly spaced ``(raw, target)`` items of a dataset folder avoiding indices in ``skip``
    (a dataset too small for that is reused whole); returns the items and their indices."""
    from isplab.data.datasets import PairedRawDataset

    data = PairedRawDataset(folder)
    free = [i for i in range(len(data)) if i not in (skip or set())] or list(range(len(data)))
    picks = sorted({free[int(k)] for k in np.linspace(0, len(free) - 1, min(count, len(free)))})
    return [data[i] for i in picks], set(picks)


def export_data(calib_dir: str | Path | None, parity_dir: str | Path | None) -> tuple[list | None, list | None]:
    """``(calibration, parity_inputs)`` from dataset folders; when both are the same folder the parity
    patches are kept apart from the calibration patches."""
    calibration, used = None, set()
    if calib_dir:
        calibration, used = dataset_items(calib_dir, CALIB_SAMPLES)
    parity = None
    if parity_dir:
        skip = used if Path(parity_dir) == Path(calib_dir or "") else None
        parity, _ = dataset_items(parity_dir, PARITY_SAMPLES, skip)
    return calibration, parity


def read_raw_frames(paths: Iterable[str | Path], options: dict[str, object] | None = None
                    ) -> list[tuple[str, RawImage]]:
    """Named raw frames for the parity proof: each file read with the ``options`` that apply to its kind
    (geometry for headerless dumps, CFA and levels for mosaics; camera raws describe themselves)."""
    from isplab.develop.pipeline import reader_options
    from isplab.raw.readers import read_raw

    frames = []
    for path in map(Path, paths):
        frames.append((path.name, read_raw(path, **reader_options(path, options or {}))))
    return frames
