"""MMR training: the loss, training examples and data sources, and the trainer.

Names are imported on first use, so ``metaembed-rag --help`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
