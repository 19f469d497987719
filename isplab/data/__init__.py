"""Paired raw -> RGB data: official layouts (:mod:`.datasets`) and synthetic default data (:mod:`.synth`)."""

from isplab.data.datasets import (
    LAYOUTS,
    DatasetSummary,
    Layout,
    PairedRawDataset,
    check_dataset,
    find_splits,
    split_indices,
)
from isplab.data.synth import CameraParams, default_data_dir, ensure_default_data, synthesize_dataset

__all__ = [
    "LAYOUTS",
    "CameraParams",
    "DatasetSummary",
    "Layout",
    "PairedRawDataset",
    "check_dataset",
    "default_data_dir",
    "ensure_default_data",
    "find_splits",
    "split_indices",
    "synthesize_dataset",
]
