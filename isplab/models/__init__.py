"""Model registry, architectures and weights. Importing this package registers every model."""

from isplab.models import microisp, pynetv2, smallnet, zoo  # noqa: F401  (registration side effect)
from isplab.models.registry import count_parameters, create_model, list_models, model_entry, register_model
from isplab.models.weights import load_checkpoint, load_model_from_checkpoint, resolve_weights, save_checkpoint

__all__ = [
    "count_parameters", "create_model", "list_models", "load_checkpoint", "load_model_from_checkpoint",
    "model_entry", "register_model", "resolve_weights", "save_checkpoint",
]
