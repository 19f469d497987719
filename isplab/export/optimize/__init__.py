"""Export-time graph optimiser: rewrite a model into an equivalent one that runs faster after conversion.

A rewrite (:class:`Rewrite`) matches a module and builds its replacement for one static input size. Each
registered rewrite is one pass, in registration order: the optimiser walks the model top-down and replaces
every match (a match is not entered; a deep copy: the caller's model is never touched), so a later pass
also rewrites what an earlier one built. Rewrites are registered here by name, so the export report can
say what was applied. Each must
compute the same function: the export proves the optimised file against the *un-optimised* PyTorch model
(parity), and :func:`optimize_for_export` first checks the rewritten model against the original in eager
mode (on the caller's inputs, or on generated ones: the check always runs), in float64 so that only a wrong
rewrite (not float rounding) can fail it (max-abs <= :data:`REWRITE_MAX_ABS`). Dynamic-size exports are not
optimised (rewrites may depend on the input size).

Measured on XNNPACK (2 threads): merging MicroISP's colour branches into grouped or block-diagonal
convolutions was *slower*; storing each branch space-to-depth (:mod:`.space_to_depth`) halves the time.
Rewrites also keep accelerators correct: :mod:`.output_stage` turns DepthToSpace -> Concat, which
Qualcomm's HTP miscomputes (``isplab accel check``), into Concat -> DepthToSpace.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from isplab.errors import IsplabError

#: Largest float64 difference a rewrite may make (rounding of reordered sums is ~1e-15).
REWRITE_MAX_ABS = 1e-9


@dataclass(frozen=True)
class Rewrite:
    """``applies(module, input_size)`` -> whether ``build(module, input_size)`` replaces it."""

    name: str
    description: str
    applies: Callable[[nn.Module, tuple[int, int]], bool]
    build: Callable[[nn.Module, tuple[int, int]], nn.Module]


def _microisp_applies(module: nn.Module, size: tuple[int, int]) -> bool:
    from isplab.export.optimize.microisp import fits_grid

    return fits_grid(module, size)


def _microisp_build(module: nn.Module, size: tuple[int, int]) -> nn.Module:
    from isplab.export.optimize.microisp import space_to_depth_microisp

    return space_to_depth_microisp(module, size)


def _output_stage_applies(module: nn.Module, size: tuple[int, int]) -> bool:
    from isplab.models.ops import DepthToSpaceConcat

    return isinstance(module, DepthToSpaceConcat)


def _output_stage_build(module: nn.Module, size: tuple[int, int]) -> nn.Module:
    from isplab.export.optimize.output_stage import concat_first

    return concat_first(module, size)


#: Registered rewrites: one pass each, in this order.
REWRITES: dict[str, Rewrite] = {
    "microisp-space-to-depth": Rewrite(
        "microisp-space-to-depth",
        "MicroISP's colour branches on a 2x2 space-to-depth grid: 2x2 block convolutions (16 channels) "
        "instead of 3x3 ones with 4",
        _microisp_applies, _microisp_build),
    "concat-depth-to-space": Rewrite(
        "concat-depth-to-space",
        "DepthToSpace -> Concat output stages as Concat -> channel permutation -> DepthToSpace (Qualcomm's HTP "
        "miscomputes the former)",
        _output_stage_applies, _output_stage_build),
}


class RewriteError(IsplabError):
    """A rewrite changed the model's function (a bug in the rewrite): export with ``--no-optimize``."""


@dataclass
class Optimized:
    model: nn.Module
    applied: list[str]  #: rewrite names, one entry per replaced module
    max_abs: float | None = None  #: eager difference to the original on the check inputs


def _count(rewrite: Rewrite, module: nn.Module, size: tuple[int, int]) -> int:
    if rewrite.applies(module, size):
        return 1
    return sum(_count(rewrite, child, size) for child in module.children())


def matches(model: nn.Module, input_size: tuple[int, int]) -> list[str]:
    """Names of the rewrites that would replace modules of ``model``, one entry per match (each pass
    top-down, a match not entered), judged on ``model`` itself: a rewrite that rebuilds a module keeps the
    sub-modules later passes match (GridMicroISP keeps MicroISP's output stage)."""
    size = tuple(input_size)
    return [r.name for r in REWRITES.values() for _ in range(_count(r, model, size))]


def _rewrite(rewrite: Rewrite, module: nn.Module, size: tuple[int, int], applied: list[str]) -> nn.Module:
    if rewrite.applies(module, size):
        applied.append(rewrite.name)
        return rewrite.build(module, size)
    for name, child in module.named_children():
        new = _rewrite(rewrite, child, size, applied)
        if new is not child:
            setattr(module, name, new)
    return module


#: Check inputs drawn when the caller passes none: seeded uniform packed raws.
GENERATED_CHECKS, CHECK_SEED = 2, 0


def optimize_for_export(model: nn.Module, input_size: tuple[int, int],
                        check_inputs: Iterable[np.ndarray] | None = None) -> Optimized:
    """``model`` (eval mode) with every registered rewrite applied for packed inputs of ``input_size``.

    The rewritten model is always checked: ``check_inputs`` (packed ``(4, H, W)`` arrays of that size; none
    given: :data:`GENERATED_CHECKS` seeded uniform ones in [0, 1]) are run through both models in float64, and a
    difference above :data:`REWRITE_MAX_ABS` raises :class:`RewriteError`. Without matches the model itself
    comes back (``max_abs`` None: nothing to check).
    """
    size = tuple(input_size)
    if not matches(model, size):
        return Optimized(model, [])
    check_inputs = [] if check_inputs is None else list(check_inputs)
    if not check_inputs:
        rng = np.random.default_rng(CHECK_SEED)
        check_inputs = [rng.random((4, *size)) for _ in range(GENERATED_CHECKS)]
    from isplab.models.ops import finest_output

    with torch.no_grad():
        optimized, applied = copy.deepcopy(model).eval(), []
        for rewrite in REWRITES.values():
            optimized = _rewrite(rewrite, optimized, size, applied)
        worst = 0.0
        reference, candidate = copy.deepcopy(model).double(), copy.deepcopy(optimized).double()
        for packed in check_inputs:
            x = torch.from_numpy(np.asarray(packed, dtype=np.float64))[None]
            worst = max(worst, float((finest_output(candidate(x)) - finest_output(reference(x))).abs().max()))
    if worst > REWRITE_MAX_ABS:
        raise RewriteError(f"the export optimiser's rewrites ({', '.join(sorted(set(applied)))}) changed the "
                           f"model's output by {worst:.2e} (> {REWRITE_MAX_ABS:.0e}). Export with --no-optimize "
                           "and report the model")
    return Optimized(optimized.eval(), applied, worst)
