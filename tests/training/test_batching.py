"""Batch plans without repeated positives, negative padding, concatenated sources, checkpoint discovery."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metaembed_rag.model.inputs import EncoderInput
from metaembed_rag.training.batching import ConcatExamples, NoDuplicatesBatches, collate, positive_keys
from metaembed_rag.training.examples import TrainingExample
from metaembed_rag.training.state import STATE_NAME, latest_checkpoint, list_checkpoints

from ._toy import image


def text(value: str) -> EncoderInput:
    return EncoderInput(text=value)


@settings(max_examples=60, deadline=None)
@given(keys=st.lists(st.integers(0, 12), min_size=4, max_size=60), batch_size=st.integers(2, 4),
       seed=st.integers(0, 3), epoch=st.integers(0, 3))
def test_batches_never_repeat_a_positive_or_an_example(keys, batch_size, seed, epoch) -> None:
    if len(set(keys)) < batch_size:
        with pytest.raises(ValueError, match=r"distinct positives|share one positive"):
            NoDuplicatesBatches(keys, batch_size, seed)
        return
    plan = NoDuplicatesBatches(keys, batch_size, seed).epoch(epoch)
    used = [i for batch in plan for i in batch]
    assert len(used) == len(set(used))  # each example at most once per epoch
    for batch in plan:
        assert len(batch) == batch_size
        assert len({keys[i] for i in batch}) == batch_size
    # What is left cannot make another batch: fewer than batch_size distinct positives remain.
    left = Counter(keys[i] for i in range(len(keys)) if i not in set(used))
    assert len(left) < batch_size
    assert plan == NoDuplicatesBatches(keys, batch_size, seed).epoch(epoch)  # a function of (seed, epoch)


def test_without_duplicates_every_full_batch_is_used_and_epochs_reshuffle() -> None:
    batches = NoDuplicatesBatches(list(range(10)), 3, seed=0)
    first, second = batches.epoch(0), batches.epoch(1)
    assert len(first) == len(second) == 3
    assert first != second
    assert batches.epoch(0) == first


def test_positive_keys_prefer_ids_then_text() -> None:
    page = EncoderInput(text="caption", image=image(0))
    examples = [
        TrainingExample(text("q1"), text("same text"), positive_id="doc-1"),
        TrainingExample(text("q2"), text("same text")),
        TrainingExample(text("q3"), text("same text")),
        TrainingExample(text("q4"), page),
        TrainingExample(text("q5"), page),
    ]
    keys = positive_keys(examples)
    assert keys[0] == ("id", "doc-1")
    assert keys[1] == keys[2] == ("text", "same text")
    assert keys[3] != keys[4]  # images without an id are never treated as duplicates


class IdsOnly(Sequence[TrainingExample]):
    """A lazy dataset that knows its positive ids without loading examples."""

    positive_ids = ("a", "b", None)

    def __len__(self) -> int:
        return 3

    def __getitem__(self, index):
        raise AssertionError("positive_keys must not load examples when positive_ids is there")


def test_positive_ids_attribute_avoids_loading_examples() -> None:
    assert positive_keys(IdsOnly()) == [("id", "a"), ("id", "b"), ("index", 2)]
    both = ConcatExamples([IdsOnly(), IdsOnly()])
    assert both.positive_ids == ["a", "b", None, "a", "b", None]
    assert positive_keys(both)[3:] == [("id", "a"), ("id", "b"), ("index", 5)]


def test_concat_examples_indexes_across_parts() -> None:
    part_a = [TrainingExample(text(f"a{i}"), text(f"A{i}")) for i in range(3)]
    part_b = [TrainingExample(text(f"b{i}"), text(f"B{i}")) for i in range(2)]
    both = ConcatExamples([part_a, part_b])
    assert len(both) == 5
    assert [both[i].query.text for i in range(5)] == ["a0", "a1", "a2", "b0", "b1"]
    assert both[-1].query.text == "b1"
    assert both.positive_ids is None
    with pytest.raises(IndexError, match="out of range for 5"):
        both[5]


def test_collate_uses_the_smallest_negative_count_in_the_batch() -> None:
    examples = [
        TrainingExample(text("q0"), text("p0"), (text("n0a"), text("n0b"), text("n0c"))),
        TrainingExample(text("q1"), text("p1"), (text("n1a"), text("n1b"))),
    ]
    batch = collate(examples)
    assert batch.num_negatives == 2 and batch.dropped_negatives == 1
    assert [d.text for d in batch.documents] == ["p0", "p1", "n0a", "n0b", "n1a", "n1b"]
    capped = collate(examples, max_negatives=1)
    assert capped.num_negatives == 1 and capped.dropped_negatives == 0
    assert [d.text for d in capped.documents] == ["p0", "p1", "n0a", "n1a"]
    none = collate([*examples, TrainingExample(text("q2"), text("p2"))])
    assert none.num_negatives == 0 and none.dropped_negatives == 5 and len(none.documents) == 3


def test_latest_checkpoint_ignores_partial_saves(tmp_path: Path) -> None:
    for step in (2, 10):
        (tmp_path / f"checkpoint-{step}").mkdir()
        (tmp_path / f"checkpoint-{step}" / STATE_NAME).write_text(json.dumps({"step": step}))
    (tmp_path / "checkpoint-12").mkdir()  # no trainer_state.json: never completed
    (tmp_path / ".checkpoint-14.tmp").mkdir()  # a save killed half-way
    (tmp_path / ".checkpoint-14.tmp" / STATE_NAME).write_text("{}")
    (tmp_path / "checkpoint-x").mkdir()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-2", "checkpoint-10"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoint-10"
    assert latest_checkpoint(tmp_path / "missing") is None
