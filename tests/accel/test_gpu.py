"""The GPU runtime's own report of CPU fallback (isplab.accel.gpu.parse_fallback), as LiteRT logs it."""

from __future__ import annotations

from isplab.accel.gpu import parse_fallback

JMU_LOG = "\n".join([  # the runtime's lines for JMU-CVLab's file (its reason line ends in a space)
    "I0000 delegate_webgpu.cc:759] # of threads to compile kernels = 0",
    "ERROR: Following operations are not supported by GPU delegate:",
    "STRIDED_SLICE: Slice does not support shrink_axis_mask parameter. ",
    "40 operations will run on the GPU, and the remaining 5 operations will run on the CPU.",
    "I0000 delegate_kernel.cc:984] Initializing WebGPU-based API from graph.",
])


def test_fallback_ops_and_counts_come_from_the_log():
    ops, gpu, cpu = parse_fallback(JMU_LOG)
    assert ops == ["STRIDED_SLICE: Slice does not support shrink_axis_mask parameter."] and (gpu, cpu) == (40, 5)


def test_a_clean_log_reports_no_fallback():
    assert parse_fallback("INFO: Created a WebGPU environment.\n") == ([], None, None)
