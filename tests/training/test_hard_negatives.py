"""Hard negatives ranked by the real MiniLM MetaEmbed, checked against scores computed directly."""

from __future__ import annotations

import pytest

from metaembed_rag.scoring import maxsim_reference
from metaembed_rag.training.hard_negatives import rank_hard_negatives
from metaembed_rag.training.mining import MinedPair, mine_hard_negatives
from metaembed_rag.training.pdf_text import DocumentText

PUMP = (
    "Safety first: unplug the unit before opening it.",
    "Unpacking: check that the box holds the pump, two hoses and the manual.",
    "Installing the water pump: mount it below the tank and tighten the four bolts.",
    "Connecting the hoses: push each hose onto its fitting until it clicks.",
    "Warranty: two years from the date of purchase.",
)
OVEN = (
    "Preheat the oven to 200 degrees before baking bread.",
    "Installing the water pump is described in the pump manual, not here.",
    "Pumps and motors: a water pump moves liquid with an impeller.",
)


def scores_of(model, query: str, texts: list[str]) -> list[float]:
    q = model.encode_queries([query])
    d = model.encode_documents(texts)
    return maxsim_reference(q, d)[0].tolist()


def test_rank_hard_negatives_matches_direct_scores(minilm) -> None:
    texts = [*PUMP, *OVEN]
    candidates = {f"c{i}": text for i, text in enumerate(texts)}
    query = "how do I mount the pump under the tank"
    scores = scores_of(minilm, query, texts)
    by_score = sorted(range(len(texts)), key=lambda i: -scores[i])
    positive = "c2"
    others = [f"c{i}" for i in by_score if f"c{i}" != positive]

    top2 = rank_hard_negatives(minilm, [query], [positive], candidates, k=2, max_relative_score=None,
                               show_progress_bar=False)
    assert top2 == [others[:2]]
    skipped = rank_hard_negatives(minilm, [query], [positive], candidates, k=1, skip_top=1,
                                  max_relative_score=None, show_progress_bar=False)
    assert skipped == [others[1:2]]
    excluded = rank_hard_negatives(minilm, [query], [positive], candidates, k=1, max_relative_score=None,
                                   exclude=lambda i, c: c == others[0], show_progress_bar=False)
    assert excluded == [others[1:2]]
    # The positive-aware threshold drops candidates scoring close to the positive.
    ratio = 0.999 * scores[int(others[1][1:])] / scores[2]
    limited = rank_hard_negatives(minilm, [query], [positive], candidates, k=1, max_relative_score=ratio,
                                  show_progress_bar=False)
    assert limited[0] and all(scores[int(c[1:])] <= ratio * scores[2] for c in limited[0])
    with pytest.raises(ValueError, match="not among the candidates"):
        rank_hard_negatives(minilm, [query], ["nope"], candidates, show_progress_bar=False)


def test_mined_negatives_skip_neighbours_and_pages_that_contain_the_query(minilm) -> None:
    pump = DocumentText("/docs/pump.pdf", "pump.pdf", PUMP, ())
    oven = DocumentText("/docs/oven.pdf", "oven.pdf", OVEN, ())
    pair = MinedPair("Installing the water pump", "pump.pdf", pump.path, 3, "bookmark", text="masked")
    [mined] = mine_hard_negatives(minilm, [pair], [pump, oven], k=3, max_relative_score=None,
                                  show_progress_bar=False)
    # Pages 2-4 of pump.pdf are the neighbourhood; oven page 2 quotes the query.
    allowed = {(pump.path, 1), (pump.path, 5), (oven.path, 1), (oven.path, 3)}
    assert len(mined.negatives) == 3 and set(mined.negatives) <= allowed
    texts = {(pump.path, n): PUMP[n - 1] for n in (1, 5)} | {(oven.path, n): OVEN[n - 1] for n in (1, 3)}
    keys = list(texts)
    scores = scores_of(minilm, pair.query, [texts[key] for key in keys])
    order = [keys[i] for i in sorted(range(len(keys)), key=lambda i: -scores[i])]
    assert list(mined.negatives) == order[:3]
    assert (mined.query, mined.page, mined.text) == (pair.query, pair.page, pair.text)
