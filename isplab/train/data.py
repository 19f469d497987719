"""Datasets for a training run: the configured folder (or the embedded default data), split train/val."""

from __future__ import annotations

from torch.utils.data import Dataset

from isplab.data import PairedRawDataset, ensure_default_data, split_indices
from isplab.train.config import DataConfig


def build_datasets(cfg: DataConfig, seed: int) -> tuple[Dataset, Dataset]:
    """``(train, val)`` datasets; ``cfg.path`` None means the embedded default data (synthesised once)."""
    root = cfg.path if cfg.path is not None else ensure_default_data(n=cfg.synth_n)
    full = PairedRawDataset(root)
    train_idx, val_idx = split_indices(len(full), cfg.val_fraction, seed)
    return (PairedRawDataset(root, indices=train_idx, crop=cfg.crop),
            PairedRawDataset(root, indices=val_idx, crop=cfg.crop))
