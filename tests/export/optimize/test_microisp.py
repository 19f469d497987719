"""MicroISP on the space-to-depth grid (isplab.export.optimize.microisp): the official weights' optimised file
equals the un-optimised one within 1e-5 on real and synthetic raws and stays GPU-clean."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
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
    assert optimized.max_abs is not None and optimized.max_abs <= 1e-9  # checked on generated inputs
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


@pytest.mark.parametrize("size", [(80, 82), (130, 98), (102, 106)])
def test_rewritten_microisp_is_exact_at_sizes_where_the_grid_pads(size, realistic_weights):
    """Sides that are and are not multiples of 3 and 6 (the gate's stride-3 sampling and its padding), wide
    and tall: the float64 check and a float32 forward both agree with the original."""
    model = realistic_weights(create_model("microisp"))
    x = np.random.default_rng(1).random((4, *size), dtype=np.float32)
    optimized = optimize_for_export(model, size, [x])
    assert optimized.max_abs <= 1e-9
    with torch.no_grad():
        t = torch.from_numpy(x)[None]
        assert float((optimized.model(t) - model(t)).abs().max()) <= 1e-5
    assert not any("mask" in k for k in optimized.model.state_dict())  # masks are rebuilt, never saved


def test_a_microisp_inside_another_module_is_rewritten(realistic_weights):
    """The optimiser walks the model: a MicroISP wrapped (e.g. behind an input normalisation) is replaced
    in place and the wrapper keeps its other children."""
    from torch import nn

    class Scaled(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.scale, self.inner = nn.Identity(), inner

        def forward(self, x):
            return self.inner(self.scale(x) * 0.5)

    wrapper = Scaled(realistic_weights(create_model("microisp"))).eval()
    x = np.random.default_rng(2).random((4, *SIZE), dtype=np.float32)
    optimized = optimize_for_export(wrapper, SIZE, [x])
    assert optimized.applied == ["microisp-space-to-depth", "concat-depth-to-space"]
    assert type(optimized.model) is Scaled
    assert type(optimized.model.inner).__name__ == "GridMicroISP" and type(wrapper.inner).__name__ == "MicroISP"
    assert isinstance(optimized.model.scale, nn.Identity)
    with torch.no_grad():
        t = torch.from_numpy(x)[None]
        assert float((optimized.model(t) - wrapper(t)).abs().max()) <= 1e-5
