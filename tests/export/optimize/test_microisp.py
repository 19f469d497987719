"""MicroISP on the space-to-depth grid (isplab.export.optimize.microisp): the official weights' optimised file
equals the un-optimised one within 1e-5 on real and synthetic raws and stays GPU-clean."""

from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from isplab.export.convert import export_tflite
from isplab.export.optimize import optimize_for_export
from isplab.export.samples import raw_frame_samples, synthetic_samples
from isplab.export.tflite_weights import load_tflite_model
from isplab.models import create_model
from isplab.runtime.litert import run_tflite

MICROISP = ("peers", "microisp-official", "MicroISP.tflite")
SIZE = (96, 128)


def test_microisp_is_rewritten_and_the_caller_model_kept(realistic_weights):
    model = realistic_weights(create_model("microisp"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimized = optimize_for_export(model, SIZE)
    assert optimized.applied == ["microisp-space-to-depth", "concat-depth-to-space"] and optimized.model is not model
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert optimize_for_export(model, (81, 97)).applied == ["concat-depth-to-space"]  # odd sides: no grid


def test_official_microisp_optimised_equals_unoptimised_and_is_gpu_clean(shared_file, real_frames, tmp_path):
    model = load_tflite_model("microisp", shared_file(*MICROISP))
    plain = export_tflite(model, tmp_path / "plain.tflite", input_size=SIZE, optimize=False)
    optimized = export_tflite(model, tmp_path / "optimized.tflite", input_size=SIZE, raw_frames=real_frames)
    assert optimized.rewrites == ["microisp-space-to-depth", "concat-depth-to-space"] and plain.rewrites == []
    assert optimized.parity.passed and optimized.parity.max_abs <= 1e-5 and "1e-05" in optimized.parity.rule
    assert optimized.audit.clean, optimized.audit.render()
    inputs = [s.packed.transpose(1, 2, 0)[None] for s in raw_frame_samples(real_frames, SIZE) + synthetic_samples(SIZE)]
    for a, b in zip(run_tflite(plain.path, inputs), run_tflite(optimized.path, inputs), strict=True):
        assert np.abs(a - b).max() <= 1e-5
    ops = Counter(op.name for op in optimized.audit.graph.ops)
    # one per conv, plus the output stage's channel permutation
    assert ops["CONV_2D"] == Counter(op.name for op in plain.audit.graph.ops)["CONV_2D"] + 1
    g = optimized.audit.graph
    last = g.producer(g.outputs[0])  # Concat -> permutation -> DepthToSpace: no DepthToSpace feeds the concat
    assert last.name == "DEPTH_TO_SPACE" and g.producer(g.producer(last.inputs[0]).inputs[0]).name == "CONCATENATION"
    assert "optimiser: concat-depth-to-space, microisp-space-to-depth" in optimized.render()
