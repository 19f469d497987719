"""The export-time graph optimiser (isplab.export.optimize): the same function for every registered model,
a wrong rewrite caught, dynamic exports left alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from isplab.export import optimize
from isplab.export.convert import export_tflite
from isplab.export.optimize import REWRITE_MAX_ABS, RewriteError, matches, optimize_for_export
from isplab.models import create_model, list_models, model_entry

MICROISP = ("peers", "microisp-official", "MicroISP.tflite")
SIZE = (96, 128)


def small_size(name: str) -> tuple[int, int]:
    entry = model_entry(name)
    side = -(-max(32, entry.min_input) // entry.input_multiple) * entry.input_multiple
    side += side % 2 * entry.input_multiple  # even sides: the grid rewrites need them
    return side, side + 2 * entry.input_multiple


#: The registered models some rewrite applies to (at the small sizes below); the others export un-optimised.
REWRITTEN = {"microisp": ["microisp-space-to-depth", "concat-depth-to-space"],
             "microisp_0.5": ["microisp-space-to-depth", "concat-depth-to-space"]}


def test_rewrites_apply_to_exactly_the_expected_models():
    """A rewrite that stops matching (or starts matching a model it was not proven on) fails here."""
    with torch.device("meta"):
        found = {name: matches(create_model(name), small_size(name)) for name in list_models()}
    assert {name: applied for name, applied in found.items() if applied} == REWRITTEN


@pytest.mark.parametrize("name", sorted(set(list_models()) - set(REWRITTEN)))
def test_models_without_a_rewrite_come_back_untouched(name):
    with torch.device("meta"):
        model = create_model(name).eval()
    optimized = optimize_for_export(model, small_size(name))
    assert optimized.model is model and optimized.applied == [] and optimized.max_abs is None


@pytest.mark.parametrize("name", sorted(REWRITTEN))
def test_optimised_model_computes_the_same_function(name, realistic_weights):
    torch.manual_seed(0)
    model = realistic_weights(create_model(name))
    x = np.random.default_rng(0).random((4, *small_size(name)), dtype=np.float32)
    optimized = optimize_for_export(model, small_size(name), [x])
    assert optimized.applied == REWRITTEN[name] and optimized.max_abs <= REWRITE_MAX_ABS
    assert type(optimized.model) is not type(model)  # really rewritten
    with torch.no_grad():
        t = torch.from_numpy(x)[None]
        reference = model(t)
        assert float((optimized.model(t) - reference).abs().max()) <= 1e-5
        assert float(reference.std()) > 0.05  # an output with structure: equality means something


def test_a_wrong_rewrite_is_caught(monkeypatch, realistic_weights):
    rewrite = optimize.REWRITES["microisp-space-to-depth"]

    def broken(module, size):
        out = rewrite.build(module, size)
        out.stages[0][0].out.bias.data += 0.1
        return out

    monkeypatch.setitem(optimize.REWRITES, rewrite.name, optimize.Rewrite(rewrite.name, "", rewrite.applies, broken))
    x = np.random.default_rng(0).random((4, *SIZE), dtype=np.float32)
    with pytest.raises(RewriteError, match="no-optimize"):
        optimize_for_export(realistic_weights(create_model("microisp")), SIZE, [x])
    with pytest.raises(RewriteError, match="no-optimize"):  # no inputs given: checked on generated ones
        optimize_for_export(realistic_weights(create_model("microisp")), SIZE)



def test_dynamic_exports_are_not_optimised(tmp_path, monkeypatch):
    from isplab.export import convert

    def refuse(*args, **kwargs):
        raise AssertionError("a dynamic export must not be optimised: rewrites may depend on the size")

    monkeypatch.setattr(convert, "optimize_for_export", refuse)
    report = export_tflite(create_model("smallnet").eval(), tmp_path / "dyn.tflite", input_size=(32, 48),
                           dynamic=True)
    assert report.rewrites == [] and report.input_shape == (1, -1, -1, 4)


def test_a_wrong_output_stage_permutation_is_caught(monkeypatch, realistic_weights):
    from isplab.export.optimize import output_stage

    monkeypatch.setattr(output_stage, "interleave_order", lambda planes, block, channels: list(
        range(planes * block * block * channels)))  # concatenation order, not depth_to_space's
    x = np.random.default_rng(0).random((4, *SIZE), dtype=np.float32)
    with pytest.raises(RewriteError, match="concat-depth-to-space"):
        optimize_for_export(realistic_weights(create_model("microisp")), SIZE, [x])
