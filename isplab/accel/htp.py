"""Qualcomm HTP: compile a tile-sized ``.tflite`` for a Snapdragon SoC and run it on the HTP simulator.

The compile reports ops offloaded, partitions and seconds; a fully offloaded graph then runs on
Qualcomm's x86 HTP simulator (QNN 2.51) as the phone's NPU would: a float file in fp16, an int8 file in
int8. Found with it: QNN's HTP miscomputes DepthToSpace -> Concat (the official MicroISP file: max-abs
0.80); isplab's export optimiser rewrites that stage (:mod:`isplab.export.optimize.output_stage`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from isplab.accel.process import call_worker
from isplab.accel.toolchains import Toolchains
from isplab.accel.verdict import AccelBudget, HtpVerdict, compare

#: Snapdragon SoCs LiteRT's Qualcomm plugin compiles for (the challenge's phone: SM8450, 8 Gen 1).
SOCS = ("SM8350", "SM8450", "SM8475", "SM8550", "SM8650", "SM8750")
DEFAULT_SOC = "SM8450"


def check_htp(chains: Toolchains, soc: str, runs: list[tuple[str, str | Path, str, list[np.ndarray]]],
              inputs: list[np.ndarray], budget: AccelBudget) -> HtpVerdict:
    """Compile and simulate each ``(precision, tflite, reference name, reference outputs)`` of ``runs``; the
    compile facts are the first run's (the float graph's)."""
    verdict = HtpVerdict(soc)
    for i, (precision, model, ref_name, references) in enumerate(runs):
        run = call_worker(chains, "htp", model, inputs, soc=soc)
        result = run.result
        if i == 0:
            verdict.ops_offloaded = result.get("ops_offloaded", 0)
            verdict.ops_total = result.get("ops_total", 0)
            verdict.partitions = result.get("partitions", 0)
            verdict.compile_seconds = result.get("compile_seconds", 0.0)
        if "error" in result:
            if i == 0:
                verdict.error = result["error"]
                return verdict
            verdict.parity.append(compare(precision, ref_name, [], references, budget))
            verdict.parity[-1].problem = result["error"][:200]
            continue
        if result.get("simulated"):
            verdict.parity.append(compare(precision, ref_name, run.outputs, references, budget))
    return verdict
