"""MMR training: the loss, training examples and data sources, and the trainer.

Names are imported on first use, so ``metaembed-rag --help`` does not load torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_getattr

if TYPE_CHECKING:
    from .arguments import TrainingArguments
    from .data import PairDataset, PairFileError, examples_from_beir, load_pairs
    from .examples import TrainingExample
    from .mmr import MMRLoss
    from .trainer import Trainer, TrainResult

__all__ = [
    "MMRLoss", "PairDataset", "PairFileError", "TrainResult", "Trainer", "TrainingArguments",
    "TrainingExample", "examples_from_beir", "load_pairs",
]  # fmt: skip

_LAZY = {
    "MMRLoss": ".mmr",
    "PairDataset": ".data",
    "PairFileError": ".data",
    "TrainResult": ".trainer",
    "Trainer": ".trainer",
    "TrainingArguments": ".arguments",
    "TrainingExample": ".examples",
    "examples_from_beir": ".data",
    "load_pairs": ".data",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
