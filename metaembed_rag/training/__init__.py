"""MMR training: the loss, training examples and data sources, and the trainer."""

from .examples import TrainingExample
from .mmr import MMRLoss

__all__ = ["MMRLoss", "TrainingExample"]
