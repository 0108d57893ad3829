"""One training example: a query, its positive, and optional hard negatives.

This is the contract between data sources (JSONL pairs, BEIR datasets, mined PDF pairs) and the
trainer. Items are already resolved to :class:`EncoderInput` (text, image, or both), so the trainer
never touches files. A lazy ``Sequence[TrainingExample]`` may resolve items in ``__getitem__``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model.inputs import EncoderInput

__all__ = ["TrainingExample"]


@dataclass(frozen=True)
class TrainingExample:
    query: EncoderInput
    positive: EncoderInput
    negatives: tuple[EncoderInput, ...] = field(default=())
    # Identifies the positive (e.g. "gnuplot.pdf:12"). Two examples with the same positive_id
    # must not share a batch, or each would be scored against its own positive as a negative.
    positive_id: str | None = None
