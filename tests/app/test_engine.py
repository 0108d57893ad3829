"""The chat logic without a browser: what reaches the chat model, condensing, citations and
retrieval-only mode, over a real index of two sample PDFs."""

from __future__ import annotations

import base64
import threading
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from metaembed_rag.app.engine import (
    ANSWER_PROMPT,
    CONDENSE_PROMPT,
    NO_LLM_NOTICE,
    ChatEngine,
    Exchange,
    SearchSettings,
    find_citations,
    link_citations,
)
from metaembed_rag.app.llm import reads_images
from metaembed_rag.app.passages import split_passages
from metaembed_rag.budget import Budget
from metaembed_rag.context import context_text
from metaembed_rag.retriever import Retriever

from .conftest import fake

CRUMBLE = "How long and at what temperature is the apple crumble baked?"  # q23: recipes p.6
RECIPES, CLAIM = "harvest-table-recipes.pdf", "wayfarer-travel-claim-form.pdf"


def where(pages) -> list[tuple[str, int]]:
    return [(Path(p.source).name, p.page) for p in pages]


def test_a_vision_model_gets_the_retrieved_page_images_and_labels(retriever: Retriever) -> None:
    llm = fake(f"Bake it at 180 C for 40 minutes [{RECIPES} p.6].", name="qwen2.5vl:7b")
    engine = ChatEngine(retriever, llm)
    assert engine.vision is True
    answer = engine.ask(CRUMBLE, settings=SearchSettings(k=3))
    pages = retriever.search(CRUMBLE, k=3)
    assert where(answer.pages) == where(pages) and (RECIPES, 6) in where(pages)
    (messages,) = llm.received
    system, human = messages
    assert isinstance(system, SystemMessage) and system.content == ANSWER_PROMPT
    assert isinstance(human, HumanMessage)
    blocks = human.content
    assert blocks[0] == {"type": "text", "text": f"Question: {CRUMBLE}\n\nPages:"}
    # per page: its label, then the stored page image, byte for byte, in retrieval order
    assert [b["text"] for b in blocks[1::2]] == [f"[{p.citation}]" for p in pages]
    images = blocks[2::2]
    assert [b["type"] for b in images] == ["image"] * 3
    assert [base64.b64decode(b["base64"]) for b in images] == [p.image_path.read_bytes() for p in pages]
    assert all(b["mime_type"] == "image/png" for b in images)
    # the answer cites the page; only that page is shown as cited
    assert answer.answer == f"Bake it at 180 C for 40 minutes [{RECIPES} p.6]."
    assert where(answer.cited) == [(RECIPES, 6)] and not answer.retrieval_only


def test_a_text_model_gets_the_text_layers_and_no_image(retriever: Retriever) -> None:
    llm = fake(f"EUR 40 for every full 4 hours [{CLAIM} p.1]", name="llama3.1:8b")
    engine = ChatEngine(retriever, llm)
    assert engine.vision is False
    question = "How much does the travel insurance pay for a flight delay?"
    answer = engine.ask(question, settings=SearchSettings(k=2))
    (messages,) = llm.received
    human = messages[-1]
    assert isinstance(human.content, str)  # a plain string: every text-only provider takes it
    pages = retriever.search(question, k=2)
    assert human.content == f"Question: {question}\n\nPages:\n\n{context_text(pages, max_chars=4000)}"
    assert (CLAIM, 1) in where(pages) and "EUR 40 for every full 4 hours" in human.content
    assert where(answer.cited) == [(CLAIM, 1)]


def test_a_follow_up_is_condensed_with_the_history_before_retrieval(retriever: Retriever) -> None:
    standalone = "How much does the travel insurance pay for a flight delay?"
    llm = fake(standalone, f"EUR 40 per 4 hours [{CLAIM} p.1]", name="llama3.1:8b")
    engine = ChatEngine(retriever, llm)
    history = [Exchange("What does the Wayfarer travel insurance cover?",
                        f"Delays, baggage and medical costs [{CLAIM} p.1].")]
    answer = engine.ask("And how much for a flight delay?", history, SearchSettings(k=2))
    condense, respond = llm.received
    assert condense == [SystemMessage(CONDENSE_PROMPT), HumanMessage(history[0].question),
                        AIMessage(history[0].answer), HumanMessage("And how much for a flight delay?")]
    assert answer.search_query == standalone
    assert where(answer.pages) == where(retriever.search(standalone, k=2))
    # the answer call sees the history too, and the user's own words as the question
    assert respond[1:3] == condense[1:3]
    assert respond[-1].content.startswith("Question: And how much for a flight delay?")


def test_without_history_there_is_no_condense_call(retriever: Retriever) -> None:
    llm = fake("No idea.", name="llama3.1:8b")
    answer = ChatEngine(retriever, llm).ask(CRUMBLE, [], SearchSettings(k=2))
    assert len(llm.received) == 1 and answer.search_query == CRUMBLE
    # an answer citing nothing shows every retrieved page
    assert answer.cited == answer.pages and len(answer.pages) == 2


def test_retrieval_only_mode_shows_the_best_passage_of_each_page(retriever: Retriever) -> None:
    engine = ChatEngine(retriever)
    history = [Exchange("What is in the recipe booklet?", "Pages: harvest-table-recipes.pdf p.1")]
    answer = engine.ask(CRUMBLE, history, SearchSettings(budget=(4, 8), k=3))
    assert answer.retrieval_only and answer.notice == NO_LLM_NOTICE
    assert "No language model is configured" in answer.notice
    assert answer.search_query == CRUMBLE  # the last question alone, not condensed
    assert answer.budget == Budget(4, 8) and where(answer.cited) == where(answer.pages)
    assert where(answer.pages) == where(retriever.search(CRUMBLE, budget=(4, 8), k=3))
    assert set(answer.passages) == {p.page_id for p in answer.pages}
    for page in answer.pages:  # each passage is the highest-scoring one of its own page
        passages = split_passages(page.text)
        scores = retriever.score(CRUMBLE, passages, budget=(4, 8))
        assert answer.passages[page.page_id] == passages[scores.index(max(scores))]
    crumble = next(p for p in answer.pages if where([p]) == [(RECIPES, 6)])
    assert "crumble" in answer.passages[crumble.page_id].lower()


def test_split_passages_keeps_sentences_whole_and_short() -> None:
    text = "First sentence here. Second one!  Third:\n" + "word " * 100
    passages = split_passages(text, max_chars=60)
    assert passages[0] == "First sentence here. Second one! Third:"
    assert all(len(p) <= 60 for p in passages)
    assert " ".join(passages).split() == text.split()
    assert split_passages("   ") == []


def test_the_controls_reach_the_search(retriever: Retriever) -> None:
    engine = ChatEngine(retriever)
    settings = SearchSettings(budget=(2, 4), k=2, hybrid=True, documents=(CLAIM,))
    answer = engine.ask(CRUMBLE, settings=settings)
    expected = retriever.search(CRUMBLE, budget=(2, 4), k=2, hybrid="rrf", filter={"doc_id": {"in": [CLAIM]}})
    assert [p.page_id for p in answer.pages] == [p.page_id for p in expected]
    assert {p.doc_id for p in answer.pages} == {CLAIM} and len(answer.pages) == 2
    assert all(p.budget == Budget(2, 4) for p in answer.pages)
    assert engine.budgets() == (Budget(1, 1), Budget(2, 4), Budget(4, 8), Budget(8, 16), Budget(16, 64))
    assert engine.documents() == [RECIPES, CLAIM]


def test_a_failing_model_still_shows_the_pages(retriever: Retriever) -> None:
    llm = fake(name="llama3.1:8b")  # no answers: the fake raises on the first call
    answer = ChatEngine(retriever, llm).ask(CRUMBLE, settings=SearchSettings(k=2))
    assert answer.retrieval_only and answer.notice.startswith("The language model failed")
    assert len(answer.pages) == 2 and set(answer.passages) == {p.page_id for p in answer.pages}


def test_two_questions_at_once_both_get_their_answers(retriever: Retriever) -> None:
    engine = ChatEngine(retriever)
    questions = [CRUMBLE, "How much does the travel insurance pay for a flight delay?"]
    expected = {q: where(engine.ask(q).pages) for q in questions}
    results: dict[str, list[tuple[str, int]]] = {}
    barrier = threading.Barrier(2)

    def ask(question: str) -> None:
        barrier.wait(timeout=30)
        results[question] = where(engine.ask(question).pages)

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == expected


def test_citations_are_found_and_linked(retriever: Retriever) -> None:
    pages = retriever.search(CRUMBLE, k=3, filter={"doc_id": RECIPES})
    labels = [p.citation for p in pages]
    text = (f"Bake 40 min [{labels[1]}]; topping [{labels[0]}; {labels[2]}] and [{labels[1]}], "
            f"also [other.pdf p.2] and [{RECIPES}, page {pages[2].page}].")
    assert find_citations(text, pages) == [pages[1], pages[0], pages[2]]
    linked = link_citations(text, pages, lambda page, label: f"<{page.rank}|{label}>")
    assert linked == (f"Bake 40 min <2|{labels[1]}>; topping <1|{labels[0]}>; <3|{labels[2]}> and "
                      f"<2|{labels[1]}>, also [other.pdf p.2] and <3|{RECIPES}, page {pages[2].page}>.")
    assert find_citations("no citation at all [1]", pages) == []


def test_vision_is_decided_by_flag_then_profile_then_name() -> None:
    assert reads_images(fake(name="gpt-4o-mini")) and reads_images(fake(name="qwen2.5vl"))
    assert reads_images(fake(name="llava:13b")) and not reads_images(fake(name="llama3.1:8b"))
    assert not reads_images(fake(name="mistral-large")) and not reads_images(fake(name="deepseek-r1"))
    assert not reads_images(fake(name="llava"), override=False)
    assert reads_images(fake(name="llama3.1"), override=True)
    assert not reads_images(fake(name="gpt-4o", profile={"image_inputs": False}))
    assert reads_images(fake(name="my-model", profile={"image_inputs": True}))


def test_an_empty_question_is_refused(retriever: Retriever) -> None:
    with pytest.raises(ValueError, match="empty"):
        ChatEngine(retriever).ask("   ")
