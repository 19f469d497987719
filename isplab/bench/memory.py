"""Peak memory of one measurement: the RSS high-water mark, reset where the OS allows.

On Linux the peak is ``VmHWM``, reset to the current RSS before a model is loaded
(``/proc/self/clear_refs``), so in-process figures are exact (``in-process (peak reset)``); without that
reset an in-process figure is only a lower bound (a higher earlier peak hides the model's), flagged
``in-process (lower bound)``. ``ru_maxrss`` is not used on Linux: it survives ``exec``, so a subprocess
would inherit its parent's peak.
"""

from __future__ import annotations

import resource
import sys


def _proc_status_mb(field: str) -> float | None:
    """``VmHWM`` / ``VmRSS`` of this process from ``/proc/self/status`` in MB (None off Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return None


def rss_peak_mb() -> float:
    """This process's RSS high-water mark in MB (Linux ``VmHWM``, elsewhere ``ru_maxrss``)."""
    hwm = _proc_status_mb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def start_memory_window() -> tuple[float, bool]:
    """Reset the RSS high-water mark to the current RSS if the OS allows it (Linux ``clear_refs`` 5),
    and return ``(baseline MB, was_reset)``. Without a reset the later peak minus this baseline is only
    a lower bound when the process peaked higher before."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        rss = _proc_status_mb("VmRSS")
        if rss is not None:
            return rss, True
    except OSError:
        pass
    return rss_peak_mb(), False


def memory_method(where: str, reset: bool) -> str:
    """``subprocess``, ``in-process (peak reset)`` or ``in-process (lower bound)``."""
    return where if where == "subprocess" else f"in-process ({'peak reset' if reset else 'lower bound'})"
