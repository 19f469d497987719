"""Shared test fixtures.

``shared_dir``: the read-only ``../shared`` tree beside the checkout (peers' models, real raw frames).
Tests that need it are skipped when it is absent, except under ``CI=true``, where a missing tree is a
failure: CI must run the parity tests, not silently skip them.

``read_only_dir``: a folder nothing can be written into, also when the tests run as root. ``raising``: a
stand-in for a heavy function, to prove that an error came before any work. ``write_png16`` and
``write_dng``: raw files of the kinds :func:`isplab.raw.readers.read_raw` reads (the reader tests and the
develop tests both use them).

``smallnet_tflite``: a small ``.tflite`` of trained weights (exported once per session). ``stale_temp``: the
temp file a dead isplab writer left. Checksums verified during the session are cached in a temporary folder
(``ISPLAB_CACHE_DIR``), not the user's.

``ray_runtime``: one real Ray runtime (2 CPUs, on 127.0.0.1, started in this process the way ``--ray
local`` starts it) shared by every Ray test of the session: Ray takes seconds to start.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from isplab.raw.bayer import CFA

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True, scope="session")
def _isplab_cache_dir(tmp_path_factory):
    """Checksums verified during the tests are remembered in a temporary cache, not the user's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ISPLAB_CACHE_DIR", str(tmp_path_factory.mktemp("isplab-cache")))
        yield


def require_shared(*parts: str) -> Path:
    """``SHARED_DIR / parts``; skip the calling test if it is missing (fail under ``CI=true``)."""
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        msg = f"shared test data not found: {path}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{msg} (CI=true: shared data is required)")
        pytest.skip(msg)
    return path


@pytest.fixture
def shared_dir() -> Path:
    """The ``../shared`` directory (skips, or fails under ``CI=true``, when absent)."""
    return require_shared()


@pytest.fixture
def shared_file():
    """Factory ``shared_file("peers", "x.tflite") -> Path`` with the same skip/fail rule per file."""
    return require_shared


@pytest.fixture
def read_only_dir(tmp_path, monkeypatch) -> Path:
    """A mode-0555 folder. Modes do not bind root, so as root ``os.access`` is made to report it unwritable."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        access = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: access(p, mode) and not Path(p).is_relative_to(folder))
    yield folder
    folder.chmod(0o755)


def _raising(exc: BaseException):
    def call(*args, **kwargs):
        raise exc

    return call


@pytest.fixture
def raising():
    """``raising(exc)``: a function that raises ``exc`` when called; monkeypatch a heavy function (conversion,
    inference, timing) with ``raising(AssertionError(...))`` to prove that nothing ran before an error."""
    return _raising


def _write_png16(path: Path, mosaic: np.ndarray) -> Path:
    Image.fromarray(mosaic.astype(np.uint16)).save(path)
    return path


def _dead_pid() -> int:
    """The id of a process that has ended (a temp file's writer that is gone)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def stale_temp(monkeypatch):
    """``stale_temp(folder, name) -> path``: the temp file an isplab process that died while writing
    ``folder/name`` left behind (:func:`isplab.atomic.make_temp`'s name, the writer's pid gone)."""
    def make(folder: Path, name: str) -> Path:
        from isplab.atomic import make_temp

        folder.mkdir(parents=True, exist_ok=True)
        pid = _dead_pid()
        with monkeypatch.context() as m:
            m.setattr(os, "getpid", lambda: pid)
            fd, tmp = make_temp(folder / name)
        os.write(fd, b"half a file")
        os.close(fd)
        return Path(tmp)

    return make


@pytest.fixture(scope="session")
def write_png16():
    """``write_png16(path, mosaic) -> path``: a 16-bit greyscale PNG mosaic."""
    return _write_png16


#: The ``ColorMatrix1`` (XYZ -> camera) of the DNGs :func:`write_dng` writes unless told otherwise.
DNG_XYZ_TO_CAM = np.array([[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]])

# DNG CFAPattern codes: 0 = red, 1 = green, 2 = blue.
_CFA_CODES = {c: tuple("RGB".index(letter) for letter in c.value) for c in CFA}


def _write_dng(path: Path, mosaic: np.ndarray, cfa: CFA, black: tuple[int, int, int, int] = (0, 0, 0, 0),
               white: int = 1000, as_shot_neutral: tuple[float, float, float] | None = (0.5, 1.0, 0.6),
               xyz_to_cam: np.ndarray = DNG_XYZ_TO_CAM, pattern: tuple[int, ...] | None = None,
               repeat: tuple[int, int] = (2, 2), illuminant: int = 21, colour_matrix2: np.ndarray | None = None,
               illuminant2: int = 17, forward_matrices: tuple[np.ndarray, ...] = (),
               camera_calibrations: tuple[np.ndarray, ...] = (), analog_balance: tuple[float, ...] | None = None,
               as_shot_white_xy: tuple[float, float] | None = None, baseline_exposure: float | None = None) -> Path:
    import tifffile

    def rationals(values, scale=10000):
        return tuple(v for f in values for v in (int(round(f * scale)), scale))

    def matrix(code, values):
        return (code, "2i", 9, rationals(np.ravel(values)), True)

    pattern = pattern or _CFA_CODES[cfa]
    tags = [
        (271, "s", 0, "isplab", True),  # Make
        (272, "s", 0, "TestCam", True),  # Model
        (33421, "H", 2, repeat, True),  # CFARepeatPatternDim
        (33422, "B", len(pattern), pattern, True),  # CFAPattern
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50708, "s", 0, "isplab TestCam", True),  # UniqueCameraModel
        (50713, "H", 2, (2, 2), True),  # BlackLevelRepeatDim
        (50714, "H", 4, black, True),  # BlackLevel, in pattern (row-major) order
        (50717, "H", 1, white, True),  # WhiteLevel
        matrix(50721, xyz_to_cam),  # ColorMatrix1 (XYZ -> camera)
        (50778, "H", 1, illuminant, True),  # CalibrationIlluminant1 (21 = D65)
    ]
    if colour_matrix2 is not None:
        tags += [matrix(50722, colour_matrix2), (50779, "H", 1, illuminant2, True)]
    tags += [matrix(code, m) for code, m in zip((50964, 50965), forward_matrices, strict=False)]  # ForwardMatrix1/2
    tags += [matrix(code, m) for code, m in zip((50723, 50724), camera_calibrations, strict=False)]  # CameraCal.1/2
    if analog_balance is not None:
        tags.append((50727, "2I", 3, rationals(analog_balance), True))
    if as_shot_neutral is not None:
        tags.append((50728, "2I", 3, rationals(as_shot_neutral), True))
    if as_shot_white_xy is not None:
        tags.append((50729, "2I", 2, rationals(as_shot_white_xy), True))
    if baseline_exposure is not None:
        tags.append((50730, "2i", 1, rationals([baseline_exposure]), True))
    tifffile.imwrite(path, mosaic.astype(np.uint16), photometric=32803, extratags=tags)
    return path


@pytest.fixture(scope="session")
def write_dng():
    """``write_dng(path, mosaic, cfa, black=(0,)*4, white=1000, as_shot_neutral=(0.5, 1, 0.6), xyz_to_cam=...,
    pattern=None, repeat=(2, 2), ...) -> path``: a minimal valid DNG (uncompressed CFA strip plus colour tags),
    written with tifffile. Optional DNG colour tags: ``colour_matrix2`` (with ``illuminant2``, default 17 =
    Standard A; ``illuminant`` of ColorMatrix1 defaults to 21 = D65), ``forward_matrices``,
    ``camera_calibrations``, ``analog_balance``, ``as_shot_white_xy`` (pass ``as_shot_neutral=None`` to omit
    that tag), ``baseline_exposure``."""
    return _write_dng
@pytest.fixture(scope="session")
def smallnet_tflite(tmp_path_factory) -> Path:
    """The shipped pretrained ``smallnet`` exported to ``.tflite`` at 16x16 (not optimised: it resizes)."""
    from isplab.export import export_tflite
    from isplab.models.weights import load_model_from_checkpoint

    path = tmp_path_factory.mktemp("smallnet-tflite") / "smallnet.tflite"
    export_tflite(load_model_from_checkpoint("pretrained:smallnet")[0], path, input_size=(16, 16), optimize=False)
    return path


@pytest.fixture(scope="session")
def ray_runtime():
    """A real local Ray runtime; ``--ray`` commands run in this process join it (ray.is_initialized())."""
    from isplab.executors import connect_ray

    ray, started = connect_ray("local", num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1",
                               object_store_memory=100 * 2**20)  # small: CI containers have little /dev/shm
    assert started, "another Ray connection was open before the tests"
    yield ray
    ray.shutdown()


def _accel_toolchains(required: bool):
    """The accelerator toolchains: set up under ``CI=true`` (a toolchain that cannot be had fails the run);
    elsewhere the ones ``isplab accel setup`` left, else skip (``required``) or None."""
    from isplab.accel.toolchains import TARGETS, Toolchains, setup_toolchains

    chains = Toolchains.load()
    missing = [t for t in TARGETS if chains.missing(t)]
    if missing and os.environ.get("CI", "").lower() == "true":
        chains = setup_toolchains(TARGETS)  # CI installs them with the project's own code; errors fail
    elif missing:
        if required:
            pytest.skip(f"{chains.missing(missing[0])} (under CI=true the tests set it up)")
        return None
    assert all(chains.missing(t) is None for t in TARGETS)
    return chains


@pytest.fixture(scope="session")
def toolchains():
    """The set-up accelerator toolchains (skips without them, sets them up under ``CI=true``)."""
    return _accel_toolchains(required=True)


@pytest.fixture(scope="session")
def toolchains_if_set_up():
    """Like ``toolchains``, but None instead of a skip outside CI."""
    return _accel_toolchains(required=False)
