"""Embedded default data: raw/RGB pairs made by *unprocessing* real photos.

Following Brooks et al., "Unprocessing Images for Learned Raw Denoising" (CVPR 2019), an sRGB crop is
turned into the raw a camera would have recorded: inverse tone curve (smoothstep) -> inverse sRGB gamma
-> linear sRGB to camera RGB (from an XYZ -> camera matrix) -> inverse white-balance and exposure gains
-> RGGB mosaic -> shot + read noise -> 10-bit quantisation (0..1020, the MAI convention). The target is the
clean sRGB crop itself, so ``process(unprocess(x)) ~= x`` and a network can learn raw -> RGB.

Pairs are written in the UltraISP layout (``mediatek_raw/<i>.png`` 16-bit, ``fujifilm/<i>.png`` 8-bit
RGB) with a ``camera.json`` recording every parameter, so :class:`~isplab.data.PairedRawDataset` reads
them like the official data. Source photos are the colour images bundled with scikit-image.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from isplab.errors import DataError
from isplab.raw.bayer import CFA, MAI_WHITE_LEVEL, mosaic_rgb
from isplab.raw.readers import cam_to_srgb_from_xyz

FORMAT = "isplab-synth/1"
REFERENCE = "Brooks et al., Unprocessing Images for Learned Raw Denoising, CVPR 2019"

#: scikit-image sample photos shipped inside the wheel (no download): name -> loader attribute.
SOURCE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "motorcycle_left")

#: Images unprocessed at once (bounds memory to ~100 MB at 256x256).
_CHUNK = 32

#: A crop covers ``size / scale`` source pixels, so scenes appear at several scales.
SCALE_RANGE = (0.5, 1.0)


def _default_xyz_to_cam() -> list[list[float]]:
    # The first of the four camera matrices in Brooks et al.'s reference code.
    return [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]]


@dataclass
class CameraParams:
    """The simulated phone camera. Ranges are ``(low, high)``; one value per image is drawn from each.

    Attributes:
        xyz_to_cam: 3x3 XYZ -> camera RGB matrix (fixed per camera; the sensor's colour response).
        red_gain, blue_gain: white-balance gains the ISP would apply (uniform).
        exposure_gain: global digital gain the ISP would apply (uniform; Brooks: 1 / N(0.8, 0.1)).
        shot_noise: shot-noise variance per unit signal (log-uniform).
        read_noise_slope, read_noise_intercept, read_noise_std: ``log(read) = slope * log(shot) +
            intercept + N(0, std)``, the fit to real sensors from Brooks et al.
    """

    xyz_to_cam: list[list[float]] = field(default_factory=_default_xyz_to_cam)
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)
    exposure_gain: tuple[float, float] = (1.1, 1.4)
    # Brooks go up to 0.012 (low light); the UltraISP scenes are daylight, so the default stops lower.
    shot_noise: tuple[float, float] = (1e-4, 4e-3)
    read_noise_slope: float = 2.18
    read_noise_intercept: float = 1.20
    read_noise_std: float = 0.26

    def __post_init__(self) -> None:
        matrix = np.asarray(self.xyz_to_cam, dtype=np.float64)
        if matrix.shape != (3, 3) or not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-9:
            raise ValueError(f"xyz_to_cam must be an invertible 3x3 matrix, got {self.xyz_to_cam}")
        self.xyz_to_cam = matrix.tolist()
        for name in ("red_gain", "blue_gain", "exposure_gain", "shot_noise"):
            low, high = (float(v) for v in getattr(self, name))
            if not 0 < low <= high:
                raise ValueError(f"{name} must be (low, high), 0 < low <= high; got {getattr(self, name)}")
            setattr(self, name, (low, high))

    @property
    def srgb_to_cam(self) -> np.ndarray:
        """Linear sRGB -> camera RGB ``(3, 3)``, rows summing to 1 (white maps to white)."""
        return np.linalg.inv(self.cam_to_srgb)

    @property
    def cam_to_srgb(self) -> np.ndarray:
        """White-balanced camera RGB -> linear sRGB ``(3, 3)``."""
        return cam_to_srgb_from_xyz(np.asarray(self.xyz_to_cam))

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path | None = None) -> CameraParams:
        """Build from a plain dict (e.g. parsed YAML/JSON); unknown keys are an error.

        A ``camera.json`` written by :func:`synthesize_dataset` is accepted too (its ``camera`` entry).
        """
        if not isinstance(data, dict):
            raise DataError(source, "camera parameters must be a mapping of names to values",
                            "write one `name: value` per line")
        if data.get("format") == FORMAT:
            data = data["camera"]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(source, f"unknown camera parameter(s) {', '.join(unknown)}",
                            f"valid names are {', '.join(sorted(known))}")
        try:
            return cls(**{k: tuple(v) if isinstance(v, list) and k != "xyz_to_cam" else v
                          for k, v in data.items()})
        except (TypeError, ValueError) as exc:
            raise DataError(source, f"invalid camera parameters ({exc})",
                            "fix the value named above") from None

    @classmethod
    def load(cls, path: str | Path) -> CameraParams:
        """Read a YAML or JSON file (YAML is a superset of JSON)."""
        import yaml

        path = Path(path)
        if not path.is_file():
            raise DataError(path, "camera file not found", "check the path")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise DataError(path, f"not valid YAML/JSON ({str(exc).splitlines()[0]})",
                            "fix the syntax") from None
        return cls.from_dict(data or {}, path)


# ---- the camera model, vectorised over (..., 3, H, W) ------------------------------------------------


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer function (IEC 61966-2-1), [0, 1] -> [0, 1]."""
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(x.dtype)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    """sRGB transfer function, [0, 1] -> [0, 1] (inputs clipped at 0)."""
    x = np.maximum(x, 0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(x.dtype)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """The global tone curve of Brooks et al.: ``3x^2 - 2x^3``."""
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def inverse_smoothstep(y: np.ndarray) -> np.ndarray:
    """Inverse of :func:`smoothstep` on [0, 1]."""
    y = np.clip(y, 0, 1)
    return (0.5 - np.sin(np.arcsin(1 - 2 * y) / 3)).astype(y.dtype)


def _apply_matrix(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return np.einsum("ij,...jhw->...ihw", matrix.astype(image.dtype), image)


def _wb_gains(red: np.ndarray, blue: np.ndarray, exposure: np.ndarray) -> np.ndarray:
    """Per-image ISP gains ``(N, 3, 1, 1)``."""
    gains = np.stack([red, np.ones_like(red), blue], axis=-1) * exposure[:, None]
    return gains[:, :, None, None].astype(np.float32)


def unprocess(srgb: np.ndarray, camera: CameraParams, red: np.ndarray, blue: np.ndarray,
              exposure: np.ndarray) -> np.ndarray:
    """sRGB ``(N, 3, H, W)`` in [0, 1] -> clean linear camera RGB ``(N, 3, H, W)`` in [0, 1]."""
    linear = srgb_to_linear(inverse_smoothstep(srgb))
    cam = _apply_matrix(linear, camera.srgb_to_cam)
    gains = _wb_gains(red, blue, exposure)
    # Brooks' "safe" inversion: near-white pixels keep gain ~1 so highlights do not turn magenta when
    # the ISP's gains push them past clipping.
    grey = cam.mean(axis=1, keepdims=True)
    mask = (np.maximum(grey - 0.9, 0) / 0.1) ** 2
    safe = np.maximum(mask + (1 - mask) / gains, 1 / gains)
    return np.clip(cam * safe, 0, 1)


def process(cam: np.ndarray, camera: CameraParams, red: np.ndarray, blue: np.ndarray,
            exposure: np.ndarray) -> np.ndarray:
    """The forward ISP the synthetic targets follow: camera RGB ``(N, 3, H, W)`` -> sRGB in [0, 1]."""
    balanced = np.clip(cam * _wb_gains(red, blue, exposure), 0, 1)
    return smoothstep(linear_to_srgb(np.clip(_apply_matrix(balanced, camera.cam_to_srgb), 0, 1)))


def add_noise(mosaic: np.ndarray, shot: np.ndarray, read: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Heteroscedastic Gaussian noise, variance ``shot * signal + read`` per image (``(N,)`` levels)."""
    var = mosaic * shot[:, None, None] + read[:, None, None]
    noise = rng.standard_normal(mosaic.shape, dtype=np.float32) * np.sqrt(var, dtype=np.float32)
    return mosaic + noise


def quantize(mosaic: np.ndarray) -> np.ndarray:
    """[0, 1] -> uint16 codes 0..1020 (10-bit data stored like the MAI PNGs)."""
    return np.round(np.clip(mosaic, 0, 1) * MAI_WHITE_LEVEL).astype(np.uint16)


# ---- sources and sampling ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def load_source_photos() -> tuple[tuple[str, np.ndarray], ...]:
    """The bundled colour photos that load offline, as ``(name, (H, W, 3) uint8)``."""
    import skimage.data

    photos = []
    for name in SOURCE_PHOTOS:
        try:
            if name == "motorcycle_left":
                image = skimage.data.stereo_motorcycle()[0]
            else:
                image = getattr(skimage.data, name)()
        except Exception:  # noqa: BLE001 - a photo that needs a download (pooch) is simply skipped
            continue
        if image.ndim == 3 and image.shape[2] >= 3:
            photos.append((name, np.ascontiguousarray(image[..., :3])))
    if not photos:
        raise DataError(None, "no scikit-image sample photo could be loaded",
                        "reinstall scikit-image (its wheel bundles the sample photos)")
    return tuple(photos)


def _sample_crop(photos: tuple[tuple[str, np.ndarray], ...], size: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, dict[str, Any]]:
    """One ``(size, size, 3)`` uint8 crop: random photo, scale, position and dihedral transform."""
    usable = [i for i, (_, img) in enumerate(photos) if min(img.shape[:2]) >= size]
    if not usable:
        raise DataError(None, f"size {size} is larger than every source photo",
                        f"use --size up to {max(min(p.shape[:2]) for _, p in photos)}")
    index = int(rng.choice(usable))
    name, image = photos[index]
    h, w = image.shape[:2]
    scale = rng.uniform(max(SCALE_RANGE[0], size / min(h, w)), SCALE_RANGE[1])
    side = min(int(round(size / scale)), h, w)
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = image[y:y + side, x:x + side]
    if side != size:
        crop = np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BICUBIC))
    k = int(rng.integers(8))
    crop = np.rot90(crop, k % 4)
    if k >= 4:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop), {"source": name, "box": [y, x, side], "transform": k}


def _draw_levels(camera: CameraParams, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    log_shot = rng.uniform(*np.log(camera.shot_noise), size=n)
    log_read = camera.read_noise_slope * log_shot + camera.read_noise_intercept + rng.normal(
        0, camera.read_noise_std, size=n)
    return {
        "red_gain": rng.uniform(*camera.red_gain, size=n),
        "blue_gain": rng.uniform(*camera.blue_gain, size=n),
        "exposure_gain": rng.uniform(*camera.exposure_gain, size=n),
        "shot_noise": np.exp(log_shot),
        "read_noise": np.exp(log_read),
    }


def synthesize_pairs(n: int, seed: int, camera: CameraParams | None = None, size: int = 256
                     ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]:
    """``n`` pairs in memory: mosaics ``(n, size, size)`` uint16 (RGGB, 0..1020), targets
    ``(n, size, size, 3)`` uint8, and one parameter record per pair. Deterministic for ``seed``."""
    if size % 2 or size <= 0:
        raise DataError(None, f"size {size} is not a positive even number", "a Bayer mosaic needs even sides")
    camera = camera or CameraParams()
    rng = np.random.default_rng(seed)
    photos = load_source_photos()
    crops, records = zip(*(_sample_crop(photos, size, rng) for _ in range(n)), strict=True) if n else ((), ())
    targets = np.stack(crops) if n else np.zeros((0, size, size, 3), np.uint8)
    levels = _draw_levels(camera, n, rng)
    mosaics = np.empty((n, size, size), dtype=np.uint16)
    for start in range(0, n, _CHUNK):  # bounded memory; fixed chunks keep the noise draws deterministic
        part = slice(start, start + _CHUNK)
        srgb = targets[part].transpose(0, 3, 1, 2).astype(np.float32) / np.float32(255)
        cam = unprocess(srgb, camera, levels["red_gain"][part], levels["blue_gain"][part],
                        levels["exposure_gain"][part])
        shot, read = levels["shot_noise"][part], levels["read_noise"][part]
        noisy = add_noise(mosaic_rgb(cam, CFA.RGGB), shot, read, rng)
        mosaics[part] = quantize(noisy)
    records = [dict(r, **{k: float(v[i]) for k, v in levels.items()}) for i, r in enumerate(records)]
    return mosaics, targets, records


# ---- writing ----------------------------------------------------------------------------------------


def _read_info(folder: Path) -> dict[str, Any] | None:
    """The ``camera.json`` of a synthetic dataset, or None if ``folder`` is not one."""
    try:
        info = json.loads((folder / "camera.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("format") == FORMAT else None


def _is_empty_dir(path: Path) -> bool:
    return path.is_dir() and not any(path.iterdir())


def _check_destination(out: Path, overwrite: bool) -> None:
    if not out.exists() or _is_empty_dir(out):
        return
    if not out.is_dir():
        raise DataError(out, "exists and is not a folder", "choose another --out")
    if not overwrite:
        raise DataError(out, "folder is not empty", "choose a new folder or pass --overwrite to replace it")
    if _read_info(out) is None:
        # Never delete a folder isplab did not create, whatever the flag says.
        raise DataError(out, "refusing to overwrite: not an isplab synthetic dataset (no camera.json)",
                        "choose a new or empty folder")


def _write_split(folder: Path, mosaics: np.ndarray, targets: np.ndarray) -> None:
    (folder / "mediatek_raw").mkdir(parents=True)
    (folder / "fujifilm").mkdir()
    for i, (mosaic, target) in enumerate(zip(mosaics, targets, strict=True)):
        Image.fromarray(mosaic).save(folder / "mediatek_raw" / f"{i}.png", compress_level=1)
        Image.fromarray(target).save(folder / "fujifilm" / f"{i}.png", compress_level=1)


def synthesize_dataset(out_dir: str | Path, n: int = 64, seed: int = 0, camera: CameraParams | None = None,
                       size: int = 256, val: int = 0, overwrite: bool = False) -> Path:
    """Write ``n`` synthetic pairs (plus ``val`` held-out pairs) in the UltraISP layout; return the folder.

    With ``val == 0`` the folder is flat (``mediatek_raw/``, ``fujifilm/``); otherwise it holds ``train/``
    and ``val/`` splits. A ``camera.json`` records the camera, the seed, the sources and every pair's
    parameters. Written to a temporary folder and renamed into place, so ``out_dir`` is never half
    written. A non-empty ``out_dir`` is an error unless ``overwrite`` (and only a previous synthetic
    dataset is ever replaced).
    """
    if n < 1 or val < 0:
        raise DataError(None, f"cannot synthesise n={n}, val={val}", "use n >= 1 and val >= 0")
    out = Path(out_dir).expanduser().absolute()
    camera = camera or CameraParams()
    _check_destination(out, overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        mosaics, targets, records = synthesize_pairs(n + val, seed, camera, size)
        splits = {"": slice(0, n)} if val == 0 else {"train": slice(0, n), "val": slice(n, n + val)}
        for name, part in splits.items():
            _write_split(tmp / name, mosaics[part], targets[part])
            for i, record in enumerate(records[part]):
                record.update(split=name or None, index=i)
        info = {
            "format": FORMAT, "reference": REFERENCE, "layout": "ultraisp", "cfa": CFA.RGGB.value,
            "black_level": 0, "white_level": MAI_WHITE_LEVEL, "n": n, "val": val, "seed": seed, "size": size,
            "camera": camera.to_dict(),
            "srgb_to_cam": camera.srgb_to_cam.tolist(), "cam_to_srgb": camera.cam_to_srgb.tolist(),
            "sources": [{"name": name, "shape": list(img.shape), "from": "scikit-image sample data"}
                        for name, img in load_source_photos()],
            "pairs": records,
        }
        (tmp / "camera.json").write_text(json.dumps(info, indent=1))
        tmp.chmod(0o755)  # mkdtemp makes it private
        _install(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _install(tmp: Path, out: Path, overwrite: bool) -> None:
    """Atomically move the finished ``tmp`` folder to ``out`` (replacing an old synthetic dataset)."""
    if _is_empty_dir(out):
        out.rmdir()
    if out.exists():
        _check_destination(out, overwrite)  # re-check: another process may have written it meanwhile
        trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
        os.replace(out, trash / "old")
        os.replace(tmp, out)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, out)


# ---- the embedded default data ----------------------------------------------------------------------


def default_data_dir() -> Path:
    """``$ISPLAB_DATA`` if set, else ``$XDG_CACHE_HOME/isplab/default-data`` (``~/.cache/...``)."""
    if os.environ.get("ISPLAB_DATA"):
        return Path(os.environ["ISPLAB_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "isplab" / "default-data"


def ensure_default_data(n: int = 64, seed: int = 0, size: int = 256) -> Path:
    """The default data folder, synthesised on first use (or again if made with another ``n``/``seed``).

    If ``$ISPLAB_DATA`` points to a non-empty folder that is not synthetic, it is returned as is.
    """
    root = default_data_dir()
    wanted = {"n": n, "seed": seed, "size": size, "val": 0}

    def ready() -> bool:
        info = _read_info(root)
        return info is not None and all(info.get(k) == v for k, v in wanted.items())

    if ready():
        return root
    info = _read_info(root)
    if info is None and root.is_dir() and any(root.iterdir()):
        return root  # the user's own data
    try:
        return synthesize_dataset(root, n=n, seed=seed, size=size, overwrite=info is not None)
    except (DataError, OSError):
        if ready():  # another process finished first
            return root
        raise

