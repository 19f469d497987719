"""Training recipes shipped in ``isplab/configs/*.yml`` (also reachable as ``configs/`` in the repo)."""

from __future__ import annotations

from pathlib import Path

from isplab.config import load_yaml
from isplab.errors import IsplabError
from isplab.train.config import TrainConfig

RECIPE_DIR = Path(__file__).resolve().parents[1] / "configs"


def list_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.yml"))


def load_train_config(name_or_path: str | Path | None, model: str | None = None) -> TrainConfig:
    """A config from a YAML path or a recipe name; with neither, the model's recipe or the defaults."""
    if name_or_path is None:
        if model is not None and (RECIPE_DIR / f"{model}.yml").is_file():
            return load_yaml(TrainConfig, RECIPE_DIR / f"{model}.yml")
        return TrainConfig(model=model) if model else TrainConfig()
    path = Path(name_or_path)
    if path.suffix in (".yml", ".yaml") or path.exists():
        return load_yaml(TrainConfig, path)
    if (RECIPE_DIR / f"{path.name}.yml").is_file():
        return load_yaml(TrainConfig, RECIPE_DIR / f"{path.name}.yml")
    raise IsplabError(f"{name_or_path}: no such config file or recipe. Recipes: {', '.join(list_recipes())}")
