"""Model registry and architectures. Importing this package registers every model."""

from isplab.models import microisp, pynetv2, smallnet, zoo  # noqa: F401  (registration side effect)
from isplab.models.registry import count_parameters, create_model, list_models, model_entry, register_model

__all__ = ["count_parameters", "create_model", "list_models", "model_entry", "register_model"]
