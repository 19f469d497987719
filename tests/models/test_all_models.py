"""One suite for every registered model (``list_models()``): shapes, gradients, determinism, fusion, export.

Heavy models are built with reduced widths/depths (:data:`SMALL`; same topology, same blocks, fewer
channels) so the whole file stays within a few CPU minutes; sizes respect each model's registered input
constraints (``ModelEntry.input_multiple`` / ``min_input``). Exports are done once per model (module
fixture) at the smallest valid square size, without the real-frame parity samples (they would not fit).
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from isplab.export import export_tflite
from isplab.models.ops import finest_output
from isplab.models.registry import create_model, list_models, model_entry
from isplab.models.reparam import reparameterize

#: Factory overrides for the tests: same architecture, narrower/shallower (full sizes are exported by
#: ``benchmarks/zoo_table.py``). MicroISP keeps its widths; 3 blocks per stage (one attention) cut its
#: ~600-op graph, the converter's main cost.
SMALL: dict[str, dict] = {
    "casia_teacher": {"base": 8},
    "casia_student": {"base": 8},
    "dann_isp": {"widths": (8, 16, 16, 32), "feature_dim": 16},
    "gaussdwt": {"channels": 8, "dwt_widths": (8, 16, 16), "merge_channels": 8, "merge_blocks": 1},
    "ifsnet": {"low_channels": 16, "low_blocks": 1, "high_channels": 8, "high_blocks": 1},
    "mialgo_unet": {"channels": (8, 16, 16, 16), "n_blocks": 1},
    "microisp": {"num_blocks": 3},
    "microisp_0.5": {"num_blocks": 3},
    "rfdcsa_large": {"channels": 16},
}

MODELS = list_models()


def build(name: str) -> nn.Module:
    torch.manual_seed(0)
    model = create_model(name, **SMALL.get(name, {}))
    with torch.no_grad():  # zero-initialised gates (e.g. self-attention gamma) would hide a whole branch
        for pname, p in model.named_parameters():
            if pname.endswith("gamma") and not p.any():
                p.fill_(0.5)
    return model


def sizes(name: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """A square and a non-square packed size, the smallest valid ones from 16 up."""
    entry = model_entry(name)
    m = entry.input_multiple
    side = -(-max(16, entry.min_input) // m) * m
    return (side, side), (side, side + max(m, 8))


def rand(size: tuple[int, int], n: int = 1) -> torch.Tensor:
    return torch.rand(n, 4, *size, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Lazily exported ``{name: ExportReport}`` shared by the export tests."""
    cache: dict = {}
    folder = tmp_path_factory.mktemp("zoo-exports")

    def get(name: str):
        if name not in cache:
            cache[name] = export_tflite(build(name), folder / f"{name}.tflite", input_size=sizes(name)[0])
        return cache[name]

    return get


def test_every_model_has_a_description():
    assert len(MODELS) >= 19
    for name in MODELS:
        assert model_entry(name).description, name


@pytest.mark.parametrize("name", MODELS)
def test_output_shape_two_sizes(name):
    model = build(name).eval()
    with torch.no_grad():
        for size, n in zip(sizes(name), (2, 1), strict=True):
            out = finest_output(model(rand(size, n)))
            assert out.shape == (n, 3, 2 * size[0], 2 * size[1]), (name, size)
            assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", MODELS)
def test_backward_finite_gradients(name):
    model = build(name).train()
    out = finest_output(model(rand(sizes(name)[1])))
    target = torch.rand(out.shape, generator=torch.Generator().manual_seed(2))
    (out - target).square().mean().backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads, f"{name}: no parameter received a gradient"
    assert all(torch.isfinite(g).all() for g in grads.values()), name
    assert any(g.abs().sum() > 0 for g in grads.values()), name


@pytest.mark.parametrize("name", MODELS)
def test_eval_is_deterministic(name):
    model = build(name).eval()
    x = rand(sizes(name)[0])
    with torch.no_grad():
        assert torch.equal(finest_output(model(x)), finest_output(model(x)))


@pytest.mark.parametrize("name", MODELS)
def test_reparameterize_is_equivalent(name):
    model = build(name).eval()
    x = rand(sizes(name)[1])
    with torch.no_grad():
        before = finest_output(model(x))
        fused = reparameterize(copy.deepcopy(model))
        after = finest_output(fused(x))
    assert not fused.training
    assert (after - before).abs().max().item() <= 1e-5, name


@pytest.mark.parametrize("name", MODELS)
def test_tflite_export_parity_and_gpu_audit(name, exports):
    report = exports(name)
    size = sizes(name)[0]
    assert report.input_shape == (1, *size, 4) and report.output_shape == (1, 2 * size[0], 2 * size[1], 3)
    assert report.parity.passed and report.parity.max_abs <= 1e-4, report.parity.render()
    assert report.audit.clean, f"{name}: {report.audit.render()}"
    assert report.audit.max_rank <= 4
