"""Real accelerators in the loop: Qualcomm's HTP (compiler + x86 simulator) and LiteRT's GPU runtime.

``isplab accel setup`` puts the toolchains into a cache (:mod:`.toolchains`); ``isplab accel check`` and
``isplab export --accel`` compile and run a model on them at a tile (:mod:`.check`) and report a verdict
per target (:mod:`.verdict`): ops offloaded, partitions, CPU-fallback ops as the runtime names them, and
parity against PyTorch or the CPU interpreter. Vendor libraries load only in a worker subprocess
(:mod:`.worker`). Importing this package loads neither torch nor any vendor library.
"""

from isplab.accel.toolchains import ToolchainError, Toolchains, setup_toolchains
from isplab.accel.verdict import AccelBudget, AccelReport, GpuVerdict, HtpVerdict, Parity, Unavailable

__all__ = ["AccelBudget", "AccelReport", "GpuVerdict", "HtpVerdict", "Parity", "ToolchainError", "Toolchains",
           "Unavailable", "setup_toolchains"]
