"""The model registry: explicit names, input constraints and recipes in the entry, pretrained lookup."""

from __future__ import annotations

import pytest
import torch

from isplab.errors import IsplabError
from isplab.models import weights
from isplab.models.cards import WeightCard
from isplab.models.registry import create_model, list_models, model_entry
from isplab.models.weights import model_checkpoint, save_checkpoint
from isplab.train.recipes import list_recipes


def test_every_model_records_an_existing_recipe() -> None:
    recipes = set(list_recipes())
    for name in list_models():
        assert model_entry(name).recipe in recipes, name


def test_team_recipes_are_not_guessed_from_file_names() -> None:
    assert model_entry("fgarepnet").recipe == "multimedia"
    assert model_entry("awbunet").recipe == "rainbow"
    assert model_entry("rfdcsa").recipe == "hitzst01"


def test_explicit_names_without_the_double_underscore_trick() -> None:
    assert "microisp_0.5" in list_models()
    assert not [n for n in list_models() if "__" in n]


def test_constraints_live_in_the_entry_and_are_checked_on_forward() -> None:
    assert (model_entry("microisp").min_input, model_entry("awbunet").input_multiple) == (79, 8)
    model = create_model("awbunet", widths=(4, 8, 8, 8), hidden=4)
    assert not hasattr(model, "multiple")  # no second home for the constraint
    with pytest.raises(ValueError, match="awbunet needs packed height and width divisible by 8"):
        model(torch.rand(1, 4, 16, 20))
    with pytest.raises(ValueError, match="microisp needs packed inputs of at least 79x79"):
        create_model("microisp")(torch.rand(1, 4, 64, 80))


def test_pretrained_absent_names_how_to_get_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(WeightCard, "path", lambda card: tmp_path / f"{card.name}.safetensors")
    assert list_models(pretrained=True) == []
    with pytest.raises(IsplabError, match=r"'smallnet.embedded' are missing from this isplab"):
        create_model("smallnet", pretrained=True)
    with pytest.raises(IsplabError, match=r"not imported yet: `isplab import microisp --from FILE --as "
                                          r"microisp.mai22_official`"):
        create_model("microisp", pretrained="mai22_official")


def test_pretrained_loads_the_card_s_file(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(WeightCard, "path", lambda card: tmp_path / f"{card.name}.safetensors")
    torch.manual_seed(3)
    source = create_model("mialgo_3conv")
    save_checkpoint(tmp_path / "mialgo_3conv.embedded.safetensors", model_checkpoint("mialgo_3conv", {}, source))
    assert list_models(pretrained=True) == ["mialgo_3conv"]
    loaded = create_model("mialgo_3conv", pretrained=True)
    expected = source.state_dict()
    assert all(torch.equal(v, expected[k]) for k, v in loaded.state_dict().items())
    with pytest.raises(IsplabError, match="create the model without overrides"):
        create_model("mialgo_3conv", pretrained=True, channels=8)
    path = tmp_path / "mialgo_3conv.embedded.safetensors"
    assert weights.resolve_weights("pretrained:mialgo_3conv") == path
    assert weights.resolve_weights("pretrained:mialgo_3conv.embedded") == path
    model, state = weights.load_model_from_checkpoint("pretrained:mialgo_3conv")
    assert state["model_name"] == "mialgo_3conv" and not model.training
