"""Batches for contrastive training: seeded per-epoch shuffles with no repeated positive in a batch.

With in-batch negatives every query is scored against the other examples' positives, so two
examples sharing a positive would each be pushed away from its own answer. ``NoDuplicatesBatches``
fills batches greedily from a shuffled order and defers an example whose positive is already in
the current batch, like sentence-transformers' ``NoDuplicatesBatchSampler``. The plan of an epoch
depends only on ``(seed, epoch)``, so a resumed run replays it exactly.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from ..model.inputs import EncoderInput
from .examples import TrainingExample

__all__ = ["ConcatExamples", "NoDuplicatesBatches", "TrainingBatch", "collate", "positive_keys"]


def positive_keys(examples: Sequence[TrainingExample], *, show_progress_bar: bool = False) -> list[Hashable]:
    """One key per example identifying its positive.

    ``positive_id`` when set; else the positive's text when it is text only; else the example's
    index (such an example is never treated as a duplicate). A dataset may offer the ids without
    loading its examples through a ``positive_ids`` sequence attribute.
    """
    ids = getattr(examples, "positive_ids", None)
    if ids is not None:
        if len(ids) != len(examples):
            raise ValueError(f"dataset has {len(examples)} examples but {len(ids)} positive_ids")
        return [("id", pid) if pid is not None else ("index", i) for i, pid in enumerate(ids)]
    keys: list[Hashable] = []
    for i in tqdm(range(len(examples)), desc="Reading positive ids", unit="example",
                  disable=not show_progress_bar):
        example = examples[i]
        positive = example.positive
        if example.positive_id is not None:
            keys.append(("id", example.positive_id))
        elif positive.image is None and positive.text is not None:
            keys.append(("text", positive.text))
        else:
            keys.append(("index", i))
    return keys


class NoDuplicatesBatches:
    """Per-epoch batch plans of ``batch_size`` example indices with distinct positive keys.

    Examples that cannot fill a last full batch are left out of that epoch (they come back, in
    another order, in the next one): a short batch would change the number of in-batch negatives.
    """

    def __init__(self, keys: Sequence[Hashable], batch_size: int, seed: int) -> None:
        if not keys:
            raise ValueError("the training set is empty; pass at least batch_size examples")
        distinct = len(set(keys))
        if distinct < 2:
            raise ValueError(
                f"all {len(keys)} training examples share one positive, so no batch has an in-batch "
                "negative; give examples different positives (or distinct positive_id values)"
            )
        if distinct < batch_size:
            raise ValueError(
                f"the {len(keys)} training examples have {distinct} distinct positives, fewer than "
                f"batch_size={batch_size}; a batch never holds the same positive twice, so lower "
                "batch_size or add examples"
            )
        self.keys = list(keys)
        self.batch_size = batch_size
        self.seed = seed
        self._plans: dict[int, tuple[tuple[int, ...], ...]] = {}

    def epoch(self, epoch: int) -> tuple[tuple[int, ...], ...]:
        """The batches of ``epoch``, in order."""
        if epoch not in self._plans:
            if len(self._plans) > 1:
                self._plans.pop(min(self._plans))
            self._plans[epoch] = self._plan(epoch)
        return self._plans[epoch]

    def _plan(self, epoch: int) -> tuple[tuple[int, ...], ...]:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.keys))
        remaining = dict.fromkeys(int(i) for i in order)  # insertion-ordered set
        batches = []
        while len(remaining) >= self.batch_size:
            batch: list[int] = []
            seen: set[Hashable] = set()
            for index in remaining:
                if self.keys[index] not in seen:
                    seen.add(self.keys[index])
                    batch.append(index)
                    if len(batch) == self.batch_size:
                        break
            if len(batch) < self.batch_size:
                break  # only duplicates of the batch's positives are left
            for index in batch:
                del remaining[index]
            batches.append(tuple(batch))
        return tuple(batches)


@dataclass
class TrainingBatch:
    """A batch laid out for one forward pass per side.

    ``documents`` holds the positives first, then each example's ``num_negatives`` hard negatives
    in example order: rows ``B + i*n : B + (i+1)*n`` belong to query ``i``.
    """

    queries: list[EncoderInput]
    documents: list[EncoderInput]
    num_negatives: int
    #: Hard negatives left out to give every example the same count.
    dropped_negatives: int

    @property
    def size(self) -> int:
        return len(self.queries)


def collate(examples: Sequence[TrainingExample], max_negatives: int | None = None) -> TrainingBatch:
    """Lay out ``examples``; each keeps its first ``n`` negatives, ``n`` being the smallest count in
    the batch (capped by ``max_negatives``)."""
    counts = [len(e.negatives) if max_negatives is None else min(len(e.negatives), max_negatives)
              for e in examples]
    n = min(counts)
    negatives = [neg for e in examples for neg in e.negatives[:n]]
    return TrainingBatch(
        queries=[e.query for e in examples],
        documents=[e.positive for e in examples] + negatives,
        num_negatives=n,
        dropped_negatives=sum(counts) - n * len(examples),
    )


class ConcatExamples(Sequence[TrainingExample]):
    """Several example sequences read as one, lazily; keeps ``positive_ids`` when every part has them."""

    def __init__(self, parts: Sequence[Sequence[TrainingExample]]) -> None:
        self.parts = list(parts)
        self.offsets = np.cumsum([0, *(len(p) for p in self.parts)])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> TrainingExample:  # type: ignore[override]
        if not -len(self) <= index < len(self):
            raise IndexError(f"example {index} is out of range for {len(self)} examples")
        index %= len(self)
        part = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return self.parts[part][index - int(self.offsets[part])]

    @property
    def positive_ids(self) -> list[str | None] | None:
        ids = [getattr(p, "positive_ids", None) for p in self.parts]
        return None if any(i is None for i in ids) else [pid for part in ids for pid in part]
