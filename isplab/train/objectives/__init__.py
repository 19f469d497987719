"""Training objectives: how a batch becomes a loss. Registered by name, chosen per stage in the config.

An objective is an ``nn.Module`` built once per stage as ``cls(cfg=..., model=..., stage=..., **kwargs)``;
its own parameters (e.g. an auxiliary head) are optimised and checkpointed with the model. The engine
calls ``objective(model, raw, target, step) -> (total_loss, {term: value})`` (under ``torchrun``: inside
DistributedDataParallel's forward, see :class:`~isplab.train.objectives.base.ObjectiveStep`).

>>> from isplab.train.objectives import list_objectives
>>> "supervised" in list_objectives()
True
"""

from isplab.train.objectives import (  # noqa: F401  (registration)
    distill,
    domain,
    masked_raw,
    multilevel,
    supervised,
    unpaired,
)
from isplab.train.objectives.base import (
    Objective,
    create_objective,
    finest_output,
    list_objectives,
    register_objective,
)

__all__ = ["Objective", "create_objective", "finest_output", "list_objectives", "register_objective"]
