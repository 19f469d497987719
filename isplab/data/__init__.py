"""Paired raw -> RGB data: official layouts (:mod:`.datasets`), the embedded stream of synthetic pairs
(:mod:`.stream`, :mod:`.camera`, :mod:`.photos`) and its folder writer (:mod:`.synth`)."""

from isplab.data.camera import CameraFamily
from isplab.data.datasets import (
    LAYOUTS,
    DatasetSummary,
    Layout,
    PairedRawDataset,
    check_dataset,
    find_splits,
)
from isplab.data.stream import SyntheticStream, evaluation_set
from isplab.data.synth import synthesize_dataset

__all__ = [
    "LAYOUTS",
    "CameraFamily",
    "DatasetSummary",
    "Layout",
    "PairedRawDataset",
    "SyntheticStream",
    "check_dataset",
    "evaluation_set",
    "find_splits",
    "synthesize_dataset",
]
