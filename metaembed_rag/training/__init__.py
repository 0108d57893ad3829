"""MMR training: the loss, training examples and data sources, and the trainer."""

from .data import PairDataset, PairFileError, examples_from_beir, load_pairs
from .examples import TrainingExample
from .mmr import MMRLoss

__all__ = ["MMRLoss", "PairDataset", "PairFileError", "TrainingExample", "examples_from_beir", "load_pairs"]
