"""Training losses. Importing this package registers every loss family (one module per family).

>>> from isplab.losses import create_loss, list_losses
>>> "l1" in list_losses()
True
"""

from isplab.losses import color, edge, histogram, patch, perceptual, pixel, structural  # noqa: F401  (registration side effect)
from isplab.losses.combined import CombinedLoss, LossTerm
from isplab.losses.registry import create_loss, list_losses, loss_entry, register_loss

__all__ = ["CombinedLoss", "LossTerm", "create_loss", "list_losses", "loss_entry", "register_loss"]
