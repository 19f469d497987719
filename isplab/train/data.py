"""The data of a training run: a step-indexed training stream and the validation images, never the same photos.

``data.path: null`` -> the embedded stream (:class:`~isplab.data.SyntheticStream`) and the embedded val
photos; a folder -> :class:`~isplab.data.sources.FolderStream` over its training pairs and its validation
pairs (:func:`~isplab.data.splits.folder_splits`). A packed store (``isplab data pack``,
:mod:`isplab.data.store`) is read like the folder it was packed from: the same pairs, splits and batches.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from torch import Tensor

from isplab.camera.profile import RawDomain, load_profile
from isplab.classic import ClassicISP
from isplab.data import SyntheticStream
from isplab.data.sources import FolderStream
from isplab.data.splits import EvalSet, Pairs, folder_eval_set, folder_splits
from isplab.data.store import dataset_splits, open_pairs
from isplab.data.stream import Family, camera_family
from isplab.data.synth import read_info
from isplab.data.unpaired import (
    TARGET_SALT,
    EmbeddedSide,
    PairedRaws,
    PhotoFolder,
    RawFolder,
    UnpairedStream,
    check_photo_split,
)
from isplab.errors import DataError
from isplab.train.config import DataConfig

#: Training crop of the embedded stream when ``data.patch`` is null.
DEFAULT_PATCH = 128


class BatchSource(Protocol):
    def batch(self, step: int, size: int) -> tuple[Tensor, Tensor]: ...


@dataclass
class RunData:
    """``train.batch(step, size)``; ``val`` (capped at ``data.val_max`` images) scored during training;
    ``val_full`` and ``test`` (None when the data has no test split) for final scores."""

    train: BatchSource
    val: EvalSet
    val_full: EvalSet
    test: EvalSet | None
    description: str


def stream_camera(cfg: DataConfig) -> Family:
    """The embedded stream's camera family: the default, an inline mapping (``kind: spectral`` for spectral
    cameras), or a camera file."""
    return camera_family(cfg.stream.camera, "data.stream.camera")


def build_run_data(cfg: DataConfig, seed: int, evaluation_seed: int = 0, validate: bool = True) -> RunData:
    """The training stream and evaluation sets of ``cfg`` (see the module docstring).

    A folder is checked up front (``validate``: every pair's headers), so a bad file stops the run before
    the first step instead of halfway through."""
    if cfg.batch_size < 1:
        raise DataError(None, f"data.batch_size {cfg.batch_size} must be >= 1", "set a positive batch size")
    if cfg.unpaired is not None:
        return unpaired_run_data(cfg, seed, evaluation_seed)
    if cfg.path is None:
        if cfg.shots is not None:
            raise DataError(None, f"data.shots {cfg.shots} needs a dataset folder (the embedded stream has no "
                            "fixed pairs)", "set data.path (--data DIR) or drop data.shots")
        val, test = embedded_eval(cfg, evaluation_seed)
        return RunData(embedded_stream(cfg, seed), val, val, test,
                       "embedded stream (photos: train split; camera family from config)")
    parts = folder_splits(cfg.path, cfg.val_fraction, cfg.white_level)
    if validate:
        parts.validate()
    if cfg.shots is not None:
        parts.train = first_pairs(parts.train, cfg.shots)
    train = FolderStream(parts.train, patch=cfg.patch, augment=cfg.augment, seed=seed, cache_gb=cfg.cache_gb)
    val_full = EvalSet.folder(parts.val, "val", parts.val_rule).centre_crop(cfg.val_crop)
    val = EvalSet.folder(parts.val, "val", parts.val_rule, limit=cfg.val_max).centre_crop(cfg.val_crop)
    test = EvalSet.folder(parts.test, "test").centre_crop(cfg.val_crop) if parts.test is not None else None
    shots = "" if cfg.shots is None else " (data.shots: the first ones)"
    return RunData(train, val, val_full, test, f"{cfg.path}: {len(parts.train)} training pairs{shots}")


def run_domain(cfg: DataConfig) -> RawDomain:
    """The raw domain a model trained on ``cfg`` expects, written into every checkpoint of the run: its levels
    (raw / ``data.white_level``; the stream's 1020) and colour space: the stream's or a synthetic folder's
    camera family, the profile named by ``data.camera``, or unknown."""
    if cfg.camera is not None:
        return folder_domain(cfg.camera, cfg.white_level)
    if cfg.path is None:
        return stream_camera(cfg).colour_space()
    info = read_info(cfg.path)
    if info is not None:
        return camera_family(info, "camera.json").colour_space(cfg.white_level)
    return RawDomain(white=(cfg.white_level,) * 4, camera=f"{cfg.path} (colour space unknown)")


def folder_domain(profile_path: str | Path, white_level: float) -> RawDomain:
    """The raw domain of a dataset folder's raws, read as ``raw / white_level``, described by a camera profile:
    its colour space, and its black level kept in as a pedestal (folders are not black-subtracted)."""
    profile = load_profile(profile_path)
    pedestal = profile.effective_black if any(profile.effective_black) else None
    return replace(profile, black=(0.0,) * 4, sensor_black=pedestal, white=(float(white_level),) * 4)


def embedded_stream(cfg: DataConfig, seed: int, only: list[str] | None = None) -> SyntheticStream:
    """The embedded stream of ``cfg`` (``only`` these training photos)."""
    s = cfg.stream
    return SyntheticStream(camera=stream_camera(cfg), patch=cfg.patch or DEFAULT_PATCH, scale=s.scale,
                           augment=cfg.augment, recolour=s.recolour if cfg.augment else 0.0,
                           saturation=s.saturation, cards=s.cards, seed=seed,
                           only=None if only is None else tuple(only))


def embedded_eval(cfg: DataConfig, evaluation_seed: int = 0) -> tuple[EvalSet, EvalSet]:
    """The embedded val and test images under ``cfg``'s camera family."""
    camera, cameras = stream_camera(cfg), cfg.stream.eval_cameras
    return tuple(EvalSet.embedded(split, camera, cameras, evaluation_seed).centre_crop(cfg.val_crop)
                 for split in ("val", "test"))  # type: ignore[return-value]


def unpaired_run_data(cfg: DataConfig, seed: int, evaluation_seed: int = 0) -> RunData:
    """Unpaired data (:class:`~isplab.train.config.UnpairedConfig`): raws and RGB photos of other scenes; the
    val/test images are pairs as always (embedded photos, a folder's held-out pairs, or ``unpaired.val``)."""
    u, patch = cfg.unpaired, cfg.patch or DEFAULT_PATCH
    assert u is not None
    if cfg.shots is not None:
        raise DataError(cfg.path, "data.shots does not apply to unpaired data",
                        "drop data.shots (few pairs: the unpaired objective's `pairs` option)")
    if cfg.path is not None and u.photos is None:
        raise DataError(cfg.path, "unpaired training on a raw folder needs data.unpaired.photos",
                        "set data.unpaired.photos to a folder of JPEG/PNG photos")
    if u.photos is None:
        check_photo_split(tuple(u.raw_photos), tuple(u.target_photos))
        photos = EmbeddedSide(embedded_stream(cfg, seed + TARGET_SALT, u.target_photos), raw=False)
        target_desc = f"embedded photos {', '.join(u.target_photos)}"
    else:
        photos, target_desc = PhotoFolder(u.photos, patch, cfg.augment, seed), f"{u.photos}"
    if cfg.path is None:
        check_photo_split(tuple(u.raw_photos), tuple(u.target_photos))
        raws = EmbeddedSide(embedded_stream(cfg, seed, u.raw_photos), raw=True)
        val, test = embedded_eval(cfg, evaluation_seed)
        raws_desc, val_full = f"embedded photos {', '.join(u.raw_photos)}", val
    elif is_pairs_folder(cfg.path):
        parts = folder_splits(cfg.path, cfg.val_fraction, cfg.white_level)
        parts.validate()
        raws = PairedRaws(FolderStream(parts.train, patch=patch, augment=cfg.augment, seed=seed, cache_gb=cfg.cache_gb))
        val_full = EvalSet.folder(parts.val, "val", parts.val_rule).centre_crop(cfg.val_crop)
        val = EvalSet.folder(parts.val, "val", parts.val_rule, limit=cfg.val_max).centre_crop(cfg.val_crop)
        test = EvalSet.folder(parts.test, "test").centre_crop(cfg.val_crop) if parts.test is not None else None
        raws_desc = f"{cfg.path}: the raws of {len(parts.train)} training pairs"
    else:
        if u.val is None:
            raise DataError(cfg.path, "a folder of raw files has no pairs to score on",
                            "set data.unpaired.val to a paired dataset folder of the same camera")
        raws = RawFolder(cfg.path, patch, cfg.augment, seed)
        val_full = folder_eval_set(u.val, "val", cfg.val_fraction, cfg.white_level).centre_crop(cfg.val_crop)
        val, test = val_full, None
        raws_desc = f"{cfg.path}: {len(raws.images)} raw files"
    stream = UnpairedStream(raws, photos, f"unpaired: raws of {raws_desc}; RGB targets of {target_desc}")
    return RunData(stream, val, val_full, test, stream.description)


def is_pairs_folder(path: str) -> bool:
    """Whether ``path`` is a paired dataset folder or store (else: a folder of raw files)."""
    try:
        dataset_splits(path)
    except DataError:
        return False
    return True


def first_pairs(dataset: Pairs, shots: int) -> Pairs:
    """The first ``shots`` pairs of ``dataset`` (numeric file order): a few-shot training set."""
    if not 1 <= shots <= len(dataset):
        raise DataError(dataset.folder, f"shots {shots}: only {len(dataset)} training pairs available",
                        f"use --shots between 1 and {len(dataset)} (data.shots)")
    return open_pairs(dataset.root, split=dataset.split, indices=dataset.positions[:shots], size=dataset.size,
                      white_level=dataset.white_level)


def classic_for(cfg: DataConfig) -> ClassicISP:
    """The classical ISP as an engineer would set it up for this data, knowing what the data carries.

    The embedded stream and synthetic folders (``camera.json``) give the camera's colour matrix and its
    nominal exposure; other folders give nothing, so no CCM and auto exposure. White balance is always
    estimated per image (grey-world): dataset pairs carry no as-shot neutral.
    """
    if cfg.path is None:
        camera, source = stream_camera(cfg), "embedded camera family"
    else:
        info = read_info(cfg.path)
        if info is None:
            return ClassicISP(exposure=None)
        camera, source = camera_family(info, "camera.json"), "camera.json"
    return ClassicISP(ccm=camera.nominal_cam_to_srgb, exposure=camera.nominal_exposure, ccm_source=source)
