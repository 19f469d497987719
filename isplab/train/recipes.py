"""Training recipes shipped in ``isplab/configs/*.yml`` (also reachable as ``configs/`` in the repo).

A model's recipe is recorded in its registry entry (``@register_model(name, recipe=...)``), not guessed
from a file name: team recipes are named after the team (``multimedia.yml`` trains ``fgarepnet``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from isplab.config import load_yaml
from isplab.errors import IsplabError
from isplab.models import model_entry
from isplab.train.config import TrainConfig

RECIPE_DIR = Path(__file__).resolve().parents[1] / "configs"


def list_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yml"))


def model_recipe(model: str) -> TrainConfig:
    """The recipe registered for ``model``, training ``model`` (a family recipe may name a sibling)."""
    name = model_entry(model).recipe
    path = RECIPE_DIR / f"{name}.yml"
    if not path.is_file():
        raise IsplabError(f"model {model!r} names recipe {name!r}, which is not in {RECIPE_DIR}. "
                          f"Recipes: {', '.join(list_recipes())}; pass one with --config")
    cfg = load_yaml(TrainConfig, path)
    if cfg.model != model:  # e.g. enerzai_t2 trains with its team's recipe, written for enerzai_t1
        cfg = replace(cfg, model=model, model_kwargs={})
    return cfg


def load_train_config(name_or_path: str | Path | None, model: str | None = None) -> TrainConfig:
    """A config from a YAML path or a recipe name; with neither, the recipe of ``model`` (default: the
    default model's)."""
    if name_or_path is None:
        return model_recipe(model or TrainConfig().model)
    path = Path(name_or_path)
    if path.suffix in (".yml", ".yaml") or path.exists():
        return load_yaml(TrainConfig, path)
    if (RECIPE_DIR / f"{path.name}.yml").is_file():
        return load_yaml(TrainConfig, RECIPE_DIR / f"{path.name}.yml")
    raise IsplabError(f"{name_or_path}: no such config file or recipe. Recipes: {', '.join(list_recipes())}")
