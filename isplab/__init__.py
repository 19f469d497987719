"""isplab: learned camera ISPs, from raw Bayer data to RGB, trained and scored like the MAI 2022 challenge."""

from isplab.models import count_parameters, create_model, list_models

__version__ = "0.1.0"
__all__ = ["count_parameters", "create_model", "list_models", "__version__"]
