"""Check a model on the accelerators: a ``.tflite`` file as it is, or a PyTorch model through isplab's export.

Targets are ``htp`` (= ``htp:SM8450``), ``htp:<SoC>`` (several allowed), ``gpu`` and ``mediatek`` (always
unavailable here: its SDK package downloads NeuroPilot's host libraries at install time). Every check runs
at a tile (:data:`~isplab.accel.tile.DEFAULT_TILE` by default) on deterministic synthetic raws:

* a ``.tflite`` is re-shaped to the tile (:func:`~isplab.accel.tile.retile`) and compared with the CPU
  LiteRT interpreter running the same tile file (a float file runs fp16 on the HTP, an int8 file int8);
* a PyTorch model is exported at the tile exactly as ``isplab export`` would (optimiser, CPU parity proof)
  and the accelerators are compared with the PyTorch model itself (fp16 on the HTP, fp16 and fp32 on the
  GPU); with ``int8`` it is also exported int8 (calibrated on synthetic raws) and the HTP's int8 run is
  compared with the CPU interpreter running that int8 file (its loss against PyTorch is the export
  parity's business).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from isplab.accel.gpu import check_gpu
from isplab.accel.htp import DEFAULT_SOC, SOCS, check_htp
from isplab.accel.tile import DEFAULT_TILE, input_shape, retile
from isplab.accel.toolchains import Toolchains
from isplab.accel.verdict import AccelBudget, AccelReport, Unavailable
from isplab.errors import IsplabError
from isplab.extras import missing as missing_extra

if TYPE_CHECKING:
    from torch import nn

MEDIATEK = ("MediaTek NeuroPilot: its SDK package downloads the host libraries at install time, which cannot "
            "be had offline; no check")


def parse_targets(text: str | list[str]) -> list[str]:
    """``"htp,gpu"`` -> ``["htp:SM8450", "gpu"]``; SoCs checked against :data:`SOCS`."""
    items = text if isinstance(text, list) else [t.strip() for t in text.split(",") if t.strip()]
    out = []
    for item in items:
        kind, _, soc = item.partition(":")
        kind = kind.lower()
        if kind == "htp":
            soc = (soc or DEFAULT_SOC).upper()
            if soc not in SOCS:
                raise IsplabError(f"unknown Snapdragon SoC {soc!r}; choose from {', '.join(SOCS)}")
            item = f"htp:{soc}"
        elif kind not in ("gpu", "mediatek") or soc:
            raise IsplabError(f"unknown accelerator target {item!r}; use htp[:SoC], gpu or mediatek "
                              "(e.g. --targets htp:SM8450,gpu)")
        else:
            item = kind
        if item not in out:
            out.append(item)
    if not out:
        raise IsplabError("no accelerator target given; use e.g. htp,gpu")
    return out


def _inputs(tile: tuple[int, int], samples: int) -> list[np.ndarray]:
    from isplab.export.samples import synthetic_samples

    return [s.packed.transpose(1, 2, 0)[None].copy() for s in synthetic_samples(tile, n=samples)]


def _run_targets(report: AccelReport, targets: list[str], chains: Toolchains, inputs: list[np.ndarray],
                 htp_runs: list[tuple], gpu_run: tuple, budget: AccelBudget) -> AccelReport:
    for target in targets:
        kind, _, soc = target.partition(":")
        if kind == "mediatek":
            report.unavailable.append(Unavailable("mediatek", MEDIATEK))
            continue
        why = missing_extra("accel", "the HTP simulator") if kind == "htp" else None
        why = why or chains.missing(kind)
        if why:
            report.unavailable.append(Unavailable(target, why))
        elif kind == "htp":
            report.htp.append(check_htp(chains, soc, htp_runs, inputs, budget))
        else:
            model, ref_name, references = gpu_run
            report.gpu = check_gpu(chains, model, inputs, ref_name, references, budget)
    return report


def _is_int8(path: Path) -> bool:
    from isplab.export.flatbuffer import read_graph

    g = read_graph(path)
    return any(t.dtype == "INT8" and t.is_constant for t in g.tensors)


def check_tflite(path: str | Path, targets: str | list[str] = "htp,gpu", tile: tuple[int, int] = DEFAULT_TILE,
                 samples: int = 1, chains: Toolchains | None = None, budget: AccelBudget | None = None
                 ) -> AccelReport:
    """Check a ``.tflite`` at ``tile`` against the CPU interpreter (see the module docstring)."""
    from isplab.runtime.litert import run_tflite

    targets, chains, budget = parse_targets(targets), chains or Toolchains.load(), budget or AccelBudget()
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="isplab-accel-") as tmp:
        shape = input_shape(path)
        tiled = path if tuple(shape[1:3]) == tuple(tile) else retile(path, Path(tmp) / "tile.tflite", tile)
        inputs = _inputs(tuple(tile), samples)
        references = run_tflite(tiled, inputs)
        precision = "int8" if _is_int8(tiled) else "fp16"
        report = AccelReport(path.name, tuple(tile))
        return _run_targets(report, targets, chains, inputs, [(precision, tiled, "CPU LiteRT", references)],
                            (tiled, "CPU LiteRT", references), budget)


def fit_tile(name: str | None, tile: tuple[int, int]) -> tuple[int, int]:
    """``tile`` rounded up to what registered model ``name`` accepts (even sides, its input multiple)."""
    if name is None:
        return tile
    from isplab.models import model_entry

    entry = model_entry(name)
    step = entry.input_multiple * (2 if entry.input_multiple % 2 else 1)
    return tuple(-(-max(s, entry.min_input) // step) * step for s in tile)


def export_check(model: nn.Module, name: str | None, targets: str | list[str], input_size: tuple[int, int],
                 tile: tuple[int, int] | None = None, precision: str = "fp32",
                 optimize: bool = True) -> Callable[[], AccelReport]:
    """The accelerator check of an export (``export_tflite(..., accel_check=...)``), run after its parity proof:
    ``model`` exported at ``tile`` (default: ``input_size`` when it fits :data:`DEFAULT_TILE`, else that; fitted
    to registered model ``name``) and checked on ``targets``. A typo in ``targets`` fails here, at once."""
    parse_targets(targets)
    if tile is None:
        tile = tuple(input_size) if all(s <= d for s, d in zip(input_size, DEFAULT_TILE, strict=True)) \
            else DEFAULT_TILE
    tile = fit_tile(name, tile)
    return lambda: check_model(model, name or type(model).__name__, targets, tile, int8=precision == "int8",
                               optimize=optimize)


def check_model(model: nn.Module, name: str, targets: str | list[str] = "htp,gpu",
                tile: tuple[int, int] = DEFAULT_TILE, int8: bool = True, optimize: bool = True, samples: int = 1,
                chains: Toolchains | None = None, budget: AccelBudget | None = None) -> AccelReport:
    """Export ``model`` at ``tile`` as ``isplab export`` does and check the files against PyTorch."""
    from isplab.export.convert import export_tflite
    from isplab.export.parity import ParityBudget, run_torch
    from isplab.export.samples import synthetic_samples
    from isplab.runtime.litert import run_tflite

    targets, chains, budget = parse_targets(targets), chains or Toolchains.load(), budget or AccelBudget()
    tile = tuple(tile)
    inputs = _inputs(tile, samples)
    was_training = model.training
    model.eval()
    try:
        references = [run_torch(model, x[0].transpose(2, 0, 1).copy()) for x in inputs]
        with tempfile.TemporaryDirectory(prefix="isplab-accel-") as tmp:
            fp32 = export_tflite(model, Path(tmp) / "fp32.tflite", input_size=tile, optimize=optimize).path
            htp_runs = [("fp16", fp32, "PyTorch", references)]
            if int8 and any(t.startswith("htp") for t in targets):
                calibration = [s.packed for s in synthetic_samples(tile, n=4, seed=1)]
                q = export_tflite(model, Path(tmp) / "int8.tflite", input_size=tile, precision="int8",
                                  calibration=calibration, optimize=optimize,
                                  budget=ParityBudget(int8_psnr_loss=99.0)).path
                htp_runs.append(("int8", q, "CPU LiteRT (int8 file)", run_tflite(q, inputs)))
            report = AccelReport(name, tile)
            return _run_targets(report, targets, chains, inputs, htp_runs, (fp32, "PyTorch", references), budget)
    finally:
        model.train(was_training)


def check_path(model: str, targets: str | list[str] = "htp,gpu", tile: tuple[int, int] | None = None,
               samples: int = 1, int8: bool = True, optimize: bool = True, chains: Toolchains | None = None,
               budget: AccelBudget | None = None) -> AccelReport:
    """:func:`check_tflite` for a ``.tflite`` path, else :func:`check_model` on a checkpoint / ``pretrained:NAME``."""
    if str(model).endswith(".tflite"):
        return check_tflite(model, targets, tile or DEFAULT_TILE, samples, chains, budget)
    from isplab.export.sources import load_export_model

    net, name, _ = load_export_model(model, None)
    return check_model(net, name, targets, fit_tile(name, tile or DEFAULT_TILE), int8, optimize, samples, chains,
                       budget)
