"""Develop raw files into finished pictures: read -> tiled model -> write, one file or many.

``develop_file`` streams: each band of output rows is encoded as soon as no later tile touches it, so the
frame is never held in float. (Encoding in a second thread was measured: on 2 cores it only slowed the
model's invokes, which use both.)
``develop_many`` uses one runner (one interpreter) for every file, keeps going when one file fails (it is
reported and skipped) and returns a summary the CLI turns into a non-zero exit status.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from isplab import __version__
from isplab.atomic import check_folder, remove_stale_temps
from isplab.camera.profile import RawDomain, profile_levels, with_profile
from isplab.develop.checks import OutputCheck
from isplab.develop.tiling import Runner, run_tiled, tiled_bands
from isplab.develop.writer import FORMATS, open_image, source_orientation
from isplab.errors import IsplabError, quote
from isplab.raw.dng import COLOUR_METHODS
from isplab.raw.readers import HEADERLESS_SUFFIXES, RawImage, read_raw

#: Suffixes taken from a folder input: mosaics, headerless dumps and the common camera raw formats.
RAW_SUFFIXES = frozenset({".png", *HEADERLESS_SUFFIXES, ".dng", ".nef", ".nrw", ".cr2", ".cr3", ".arw", ".srf",
                          ".sr2", ".orf", ".rw2", ".raf", ".pef", ".srw", ".3fr", ".iiq", ".rwl", ".x3f"})
#: Reader options that apply to each kind of input (camera raws describe themselves).
_MOSAIC_OPTIONS = {"cfa", "black", "white"}
_HEADERLESS_OPTIONS = _MOSAIC_OPTIONS | {"width", "height", "bit_depth", "endianness"}
#: ``--neutral``: the file's as-shot neutral (the adapter's fallback estimate when it has none), or an estimator.
NEUTRALS = ("as-shot", "grey-world", "grey-edge", "white-patch")


@dataclass
class DevelopSettings:
    """How to develop: output format, tiling (packed pixels; ``tile=None``: the runner's ``default_tile``),
    JPEG quality, reader options for mosaics; the camera adapter (``adapt``: map each frame into the model's
    raw domain, white-balanced by ``neutral``, colours through ``colour_method``, exposed by ``exposure``: a
    factor or ``"auto"``, the model's own level;
    docs/camera.md); ``camera``: a camera profile for files without colour metadata (``isplab profile``)."""

    fmt: str = "png"
    tile: int | None = None
    overlap: int = 32
    quality: int = 90
    read_options: dict[str, object] = field(default_factory=dict)
    copy_orientation: bool = True
    adapt: bool = True
    neutral: str | tuple[float, ...] = "as-shot"  #: a :data:`NEUTRALS` name or 4 values (canonical channels)
    exposure: float | str = "auto"
    colour_method: str = "mixed"
    camera: RawDomain | None = None


@dataclass
class DevelopSummary:
    developed: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


def raw_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given; a folder becomes its raw files (:data:`RAW_SUFFIXES`, sorted by name)."""
    out: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            out += sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in RAW_SUFFIXES)
        else:
            out.append(item)
    return out


def reader_options(path: Path, options: dict[str, object]) -> dict[str, object]:
    """The subset of ``options`` that applies to ``path``'s kind (so one batch can mix DNG, PNG, .raw)."""
    suffix = path.suffix.lower()
    allowed = _HEADERLESS_OPTIONS if suffix in HEADERLESS_SUFFIXES else _MOSAIC_OPTIONS if suffix == ".png" else set()
    return {k: v for k, v in options.items() if k in allowed and v is not None}


def _bound(runner: Runner, image: RawImage, packed: np.ndarray) -> Runner:
    return runner.for_image(image, packed) if hasattr(runner, "for_image") else runner


def model_input(image: RawImage, runner: Runner, settings: DevelopSettings) -> tuple[np.ndarray, dict]:
    """The packed frame ``runner`` is fed, and what the camera adapter did (for the output's metadata).

    Runners that know their model's raw domain (checkpoints, and ``.tflite`` files exported from them) get
    the frame adapted into it; other ``.tflite`` files and the classical ISP get the frame as read (its own
    levels, no white balance). With ``--no-adapt`` the runner's domain is not even read.
    """
    if not settings.adapt:
        return image.packed(), {"adapter": "off (--no-adapt)"}
    domain = getattr(runner, "domain", None)
    if domain is None:
        return image.packed(), {"adapter": f"not applied: {runner.name} carries no raw domain"}
    from isplab.camera.adapt import adapt_frame

    packed, record = adapt_frame(image, domain, neutral=settings.neutral, exposure=settings.exposure,
                                 colour_method=settings.colour_method)
    return packed, {"adapter": "on", **record.to_dict()}


def read_frame(path: Path, settings: DevelopSettings) -> RawImage:
    """Read ``path`` with the reader options that apply to it; a camera profile fills in the levels not
    given as options and the colour space of files without colour metadata."""
    options = settings.read_options
    if settings.camera is not None:
        options = {**profile_levels(settings.camera), **{k: v for k, v in options.items() if v is not None}}
    image = read_raw(path, **reader_options(path, options))
    return image if settings.camera is None else with_profile(image, settings.camera)


def develop_image(image: RawImage, runner: Runner, settings: DevelopSettings,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """A read frame -> developed RGB ``(3, H, W)`` float32 (not clipped), tiled per ``settings``."""
    packed, _ = model_input(image, runner, settings)
    return run_tiled(packed, _bound(runner, image, packed), tile_size(runner, settings), settings.overlap, progress)


def tile_size(runner: Runner, settings: DevelopSettings) -> int | tuple[int, int]:
    """The tile to use (packed pixels): a fixed-size runner's own ``(th, tw)``, else the settings' side, else
    the runner's default, else 512."""
    if runner.fixed_size is not None:
        return runner.fixed_size
    return settings.tile if settings.tile is not None else getattr(runner, "default_tile", 512)


def _tile_text(tile: int | tuple[int, int]) -> str:
    return str(tile) if isinstance(tile, int) else f"{tile[0]}x{tile[1]}"


def check_settings(settings: DevelopSettings) -> DevelopSettings:
    """Fail once, before any model loads or file is read, on settings no file could be developed with."""
    s = settings
    if s.fmt not in FORMATS:
        raise IsplabError(f"--format {s.fmt}: unknown output format. Use one of {', '.join(FORMATS)}")
    if s.tile is not None and s.tile < 1:
        raise IsplabError(f"--tile {s.tile}: must be >= 1. Omit it for the default size")
    if s.overlap < 0:
        raise IsplabError(f"--overlap {s.overlap}: must be >= 0. Omit it for the default 32")
    if s.tile is not None and s.tile < 2 * s.overlap:
        raise IsplabError(f"--tile {s.tile}: must be at least twice --overlap {s.overlap}. "
                          "Raise --tile or lower --overlap")
    if not 1 <= s.quality <= 100:
        raise IsplabError(f"--quality {s.quality}: must be from 1 to 100. Omit it for the default 90")
    if isinstance(s.neutral, str) and s.neutral not in NEUTRALS:
        raise IsplabError(f"--neutral {s.neutral[:80]}: unknown. Use one of {', '.join(NEUTRALS)}, or 4 values "
                          "B,G,R,G")
    if not isinstance(s.neutral, str) and not (len(s.neutral) == 4 and all(np.isfinite(v) and v > 0
                                                                           for v in s.neutral)):
        raise IsplabError(f"--neutral {quote(s.neutral)}: needs 4 positive finite values B,G,R,G. Fix the values")
    if s.colour_method not in COLOUR_METHODS:
        raise IsplabError(f"--colour-method {s.colour_method}: unknown. Use one of {', '.join(COLOUR_METHODS)}")
    if s.exposure != "auto" and not (isinstance(s.exposure, int | float) and s.exposure > 0
                                     and np.isfinite(s.exposure)):
        shown = f"{s.exposure:g}" if isinstance(s.exposure, int | float) else quote(s.exposure)
        raise IsplabError(f"--exposure {shown}: must be a positive factor or auto. Omit it for auto")
    _check_reader_options(s.read_options)
    return settings


def _check_reader_options(options: dict[str, object]) -> None:
    """The mosaic / headerless geometry options of :func:`check_settings`."""
    from isplab.raw.bayer import CFA

    cfa, black, white = options.get("cfa"), options.get("black"), options.get("white")
    if cfa is not None and str(cfa).upper() not in {c.value for c in CFA}:
        raise IsplabError(f"--cfa {cfa}: unknown Bayer phase. Use one of {', '.join(c.value for c in CFA)}")
    if black is not None and white is not None and black >= white:
        raise IsplabError(f"--black {black:g} --white {white:g}: the black level must be below the white "
                          "level. Fix either value")
    bits = options.get("bit_depth")
    if bits is not None and not 1 <= bits <= 16:
        raise IsplabError(f"--bit-depth {bits}: must be from 1 to 16. Give the bits per sample of the .raw")
    for name in ("width", "height"):
        value = options.get(name)
        if value is not None and value < 1:
            raise IsplabError(f"--{name} {value}: must be >= 1. Give the {name} of the .raw in photosites")


def output_path(path: Path, out_dir: Path, fmt: str) -> Path:
    return out_dir / (path.stem + FORMATS[fmt][0])


def develop_file(path: str | Path, runner: Runner, out_dir: str | Path, settings: DevelopSettings | None = None,
                 progress: Callable[[int, int], None] | None = None) -> Path:
    """Develop one raw file into ``out_dir/<stem>.<png|jpg>``; returns the written path."""
    path, settings = Path(path), check_settings(settings or DevelopSettings())
    image = read_frame(path, settings)
    packed, adapter = model_input(image, runner, settings)
    metadata = {
        "Software": f"isplab {__version__}",
        "Description": f"developed from {path.name} by {runner.name}",
        "isplab.model": runner.name,
        "isplab.settings": f"tile={_tile_text(tile_size(runner, settings))} overlap={settings.overlap} "
                           f"format={settings.fmt} cfa={image.cfa.value} black={np.mean(image.black_level):g} "
                           f"white={image.white_level:g}",
        "isplab.adapter": json.dumps(adapter, default=float),
    }
    orientation = source_orientation(path) if settings.copy_orientation else None
    writer = open_image(output_path(path, Path(out_dir), settings.fmt), image.shape, settings.fmt, metadata,
                        orientation, settings.quality)
    check = OutputCheck(path, runner.name, packed)  # nothing is written until the whole picture passed
    for _, rows in tiled_bands(packed, _bound(runner, image, packed), tile_size(runner, settings),
                               settings.overlap, progress):
        check.band(rows)
        writer.write(rows)
    check.finish()
    return writer.close()


def develop_many(paths: Sequence[str | Path], runner: Runner, out_dir: str | Path,
                 settings: DevelopSettings | None = None, progress: bool = True,
                 log: Callable[[str], None] | None = None) -> DevelopSummary:
    """Develop every file (folders: their raw files, :func:`raw_inputs`) with one runner; a file that fails is
    reported through ``log`` and skipped, the rest go on."""
    settings = check_settings(settings or DevelopSettings())
    paths = raw_inputs(paths)
    clashes = [p for p, n in Counter(output_path(p, Path(out_dir), settings.fmt) for p in paths).items() if n > 1]
    if clashes:
        raise IsplabError(f"several inputs would be written to {clashes[0]} (same file name stem); "
                          "develop them into different --out folders")
    remove_stale_temps(check_folder(out_dir, "developed files (--out)"))
    bar = None
    if progress:  # tqdm costs ~35 ms of imports: a quiet run does not pay them
        from tqdm import tqdm

        bar = tqdm(paths, desc="develop", unit="file", file=sys.stderr)
    log = log or (lambda line: bar.write(line, file=sys.stderr) if bar else print(line, file=sys.stderr))
    summary = DevelopSummary()
    for path in bar if bar is not None else paths:
        if bar is not None:
            bar.set_postfix_str(path.name)
        try:
            summary.developed.append(develop_file(path, runner, out_dir, settings))
        except Exception as exc:  # one bad file must not stop a batch; KeyboardInterrupt still does
            message = str(exc) if isinstance(exc, IsplabError) else f"{type(exc).__name__}: {exc}"
            summary.failed.append((path, message))
            log(f"skipped: {message}" if str(path) in message else f"skipped {path}: {message}")
    return summary
