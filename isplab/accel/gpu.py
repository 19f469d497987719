"""LiteRT's GPU runtime (WebGPU via Dawn, on Mesa's lavapipe Vulkan driver): acceleration and parity.

The runtime itself says which ops it cannot run: its log names each with the reason ("STRIDED_SLICE:
Slice does not support shrink_axis_mask parameter.") and counts the ops on the GPU and on the CPU;
``is_fully_accelerated()`` agrees. The static rule table of :mod:`isplab.export.audit` is only a fallback
for machines without this toolchain. The default GPU precision is fp16; ``fp32`` runs ``enforce_f32``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from isplab.accel.process import call_worker
from isplab.accel.tile import GPU_BUFFER_LIMIT, largest_tensor_bytes
from isplab.accel.toolchains import Toolchains
from isplab.accel.verdict import AccelBudget, GpuVerdict, compare

PRECISIONS = ("fp16", "fp32")
_UNSUPPORTED = "Following operations are not supported by GPU delegate:"
_COUNTS = re.compile(r"(\d+) operations will run on the GPU, and the remaining (\d+) operations will run on the CPU")


def parse_fallback(log: str) -> tuple[list[str], int | None, int | None]:
    """``(["OP: reason", ...], gpu ops, cpu ops)`` from the runtime's log (empty, None, None: none fell back)."""
    lines = log.splitlines()
    ops: list[str] = []
    for i, line in enumerate(lines):
        if _UNSUPPORTED in line:
            for follow in lines[i + 1:]:
                if _COUNTS.search(follow) or not re.match(r"^[A-Z_0-9]+: ", follow.strip()):
                    break
                if follow.strip() not in ops:
                    ops.append(follow.strip())
    counts = _COUNTS.search(log)
    return ops, (int(counts[1]) if counts else None), (int(counts[2]) if counts else None)


def check_gpu(chains: Toolchains, model: str | Path, inputs: list[np.ndarray], ref_name: str,
              references: list[np.ndarray], budget: AccelBudget) -> GpuVerdict:
    """Run ``model`` (tile-sized) in fp16 and fp32 and compare with ``references``."""
    biggest = largest_tensor_bytes(model)
    if biggest > GPU_BUFFER_LIMIT:
        return GpuVerdict(error=f"a {biggest / 2**20:.0f} MiB tensor exceeds the runtime's 128 MiB buffer limit "
                                "(it would return zeros): check at a smaller tile")
    verdict = GpuVerdict()
    for precision in PRECISIONS:
        run = call_worker(chains, "gpu", model, inputs, precision=precision)
        if "error" in run.result:
            verdict.error = run.result["error"]
            return verdict
        if precision == PRECISIONS[0]:
            verdict.fully_accelerated = bool(run.result["fully_accelerated"])
            verdict.fallback, verdict.gpu_ops, verdict.cpu_ops = parse_fallback(run.log)
        verdict.parity.append(compare(precision, ref_name, run.outputs, references, budget))
    return verdict
