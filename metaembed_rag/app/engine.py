"""The chat logic, without a browser: condense, retrieve, answer with citations.

One question goes through three steps:

1. **Condense.** With a chat model and a history, the follow-up is rewritten as a standalone
   question first (the prompt of LangChain's ``create_history_aware_retriever``), so "and in
   2023?" searches for what it means. Retrieval-only mode searches the last question alone.
2. **Retrieve** through :meth:`Retriever.search` with the UI's budget, ``k``, hybrid switch and
   document filter.
3. **Answer.** A vision model gets each page's citation label and stored page image; a text-only
   model gets the labels and text layers (:mod:`metaembed_rag.context` builds both). The model is
   told to cite pages as ``[file p.N]``; :func:`find_citations` maps those back to the pages.
   Without a chat model (or when it fails) the answer lists the pages with the passage of each
   page's text that best matches the question (:mod:`.passages`).

The engine keeps no conversation state: the caller passes the history, so one engine serves any
number of browser tabs at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..budget import Budget, BudgetLike, ladder_for
from ..context import content_blocks, context_text
from ..retriever import RetrievedPage, Retriever
from .llm import reads_images
from .passages import best_passages

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import BaseMessage

__all__ = [
    "ANSWER_PROMPT",
    "CONDENSE_PROMPT",
    "NO_LLM_NOTICE",
    "ChatAnswer",
    "ChatEngine",
    "Exchange",
    "SearchSettings",
    "find_citations",
    "link_citations",
]

#: LangChain's contextualize-question prompt (``create_history_aware_retriever`` docs).
CONDENSE_PROMPT = (
    "Given a chat history and the latest user question which might reference context in the chat "
    "history, formulate a standalone question which can be understood without the chat history. "
    "Do NOT answer the question, just reformulate it if needed and otherwise return it as is."
)
ANSWER_PROMPT = (
    "You answer questions about the user's documents using only the document pages given with the "
    "question. Each page starts with its label in square brackets, such as [report.pdf p.3]. Cite "
    "the page of every fact by copying its label exactly, in square brackets, right after the fact. "
    "If the pages do not contain the answer, say so plainly."
)
NO_LLM_NOTICE = (
    "No language model is configured, so this is retrieval-only mode: the pages below are the best "
    "matches, each with the passage of its text that best matches your question. Start the app with "
    "`--llm provider:model` (or set METAEMBED_RAG_LLM) for written answers."
)
MAX_HISTORY = 6  # past exchanges sent to the model
_BRACKETS = re.compile(r"\[([^\[\]\n]{1,300})\]")
_ONE_CITATION = re.compile(r"^\s*(.+?)\s*,?\s+p(?:age|\.)?\s*(\d+)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SearchSettings:
    """The UI's search controls: budget, ``k``, hybrid on/off and the documents to search."""

    budget: BudgetLike | None = None  # None: the retriever's default
    k: int = 4
    hybrid: bool = False
    documents: tuple[str, ...] = ()  # doc ids; empty: every document

    def filter(self) -> dict[str, Any] | None:
        return {"doc_id": {"in": list(self.documents)}} if self.documents else None


@dataclass(frozen=True)
class Exchange:
    """One past question and the answer text shown for it."""

    question: str
    answer: str


@dataclass(frozen=True)
class ChatAnswer:
    """What one question produced. ``answer`` is the model's text (None in retrieval-only mode);
    ``cited`` the pages it cited, in order of first citation (every retrieved page when it cited
    none or there is no model); ``passages`` the best passage per page id in retrieval-only mode."""

    question: str
    search_query: str
    budget: Budget
    pages: list[RetrievedPage]
    answer: str | None
    cited: list[RetrievedPage]
    passages: dict[str, str] = field(default_factory=dict)
    notice: str | None = None

    @property
    def retrieval_only(self) -> bool:
        return self.answer is None


class ChatEngine:
    """Answers questions about the pages of ``retriever``'s index with ``llm`` (None:
    retrieval-only mode). ``vision`` forces page images (True) or text layers (False) for the
    model; None decides from the model (:func:`metaembed_rag.app.llm.reads_images`)."""

    def __init__(
        self,
        retriever: Retriever,
        llm: BaseChatModel | None = None,
        *,
        vision: bool | None = None,
        max_chars: int = 4000,
        passage_chars: int = 320,
    ) -> None:
        self.retriever = retriever
        self.llm = llm
        self.vision = None if llm is None else reads_images(llm, vision)
        self.max_chars = max_chars
        self.passage_chars = passage_chars

    # -- what the UI offers ------------------------------------------------------------------
    def budgets(self) -> tuple[Budget, ...]:
        """The ladder budgets this index's model supports, cheapest first."""
        model = self.retriever.model
        return ladder_for(model.num_query_tokens, model.num_candidate_tokens)

    def documents(self) -> list[str]:
        """The doc ids in the index, sorted."""
        pages = getattr(self.retriever.store, "pages", None)
        return [] if pages is None else sorted({p.doc_id for p in pages() if p.doc_id})

    # -- the three steps ---------------------------------------------------------------------
    def condense(self, question: str, history: Sequence[Exchange]) -> str:
        """``question`` rewritten to stand alone, by the chat model; as is without model or history."""
        if self.llm is None or not history:
            return question
        from langchain_core.messages import SystemMessage

        messages = [SystemMessage(CONDENSE_PROMPT), *_history_messages(history), _human(question)]
        rewritten = self.llm.invoke(messages).text.strip()
        return rewritten or question

    def retrieve(self, query: str, settings: SearchSettings) -> list[RetrievedPage]:
        return self.retriever.search(query, budget=settings.budget, k=settings.k,
                                     hybrid="rrf" if settings.hybrid else None, filter=settings.filter())

    def answer_messages(self, question: str, history: Sequence[Exchange],
                        pages: Sequence[RetrievedPage]) -> list[BaseMessage]:
        """The messages the chat model gets: instructions, the history, then the question with the
        pages (images and labels for a vision model, labels and text layers for a text model)."""
        from langchain_core.messages import HumanMessage, SystemMessage

        if self.vision:
            content: Any = [{"type": "text", "text": f"Question: {question}\n\nPages:"},
                            *content_blocks(pages, images=True, text=False)]
        else:
            content = f"Question: {question}\n\nPages:\n\n{context_text(pages, max_chars=self.max_chars)}"
        return [SystemMessage(ANSWER_PROMPT), *_history_messages(history), HumanMessage(content=content)]

    def ask(self, question: str, history: Sequence[Exchange] = (),
            settings: SearchSettings | None = None) -> ChatAnswer:
        """Condense, retrieve and answer ``question``. A failing model call never loses the pages:
        the answer falls back to retrieval-only with the error as its notice."""
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        settings = settings or SearchSettings()
        budget = self.retriever.model.budget(settings.budget or self.retriever.budget)
        notice = None
        try:
            query = self.condense(question, history)
        except Exception as error:  # a model that is down still lets the search run
            query, notice = question, f"The language model could not condense the question ({error})."
        pages = self.retrieve(query, settings)
        if self.llm is not None and pages:
            try:
                text = self.llm.invoke(self.answer_messages(question, history, pages)).text.strip()
            except Exception as error:
                notice = f"The language model failed ({type(error).__name__}: {error}); showing the pages."
            else:
                cited = find_citations(text, pages)
                return ChatAnswer(question, query, budget, pages, text, cited or list(pages), notice=notice)
        if self.llm is None:
            notice = NO_LLM_NOTICE
        passages = best_passages(self.retriever, query, pages, budget=budget, max_chars=self.passage_chars)
        return ChatAnswer(question, query, budget, pages, None, list(pages), passages, notice)


# -- citations ---------------------------------------------------------------------------------
def _citation_key(name: str, page: int | str) -> tuple[str, int]:
    return Path(name.strip()).name.lower(), int(page)


def _page_keys(pages: Sequence[RetrievedPage]) -> dict[tuple[str, int], RetrievedPage]:
    return {_citation_key(p.source or p.page_id, p.page): p for p in pages if p.page is not None}


def _split(inside: str) -> list[tuple[str, re.Match[str] | None]]:
    """The parts of one bracket (``a.pdf p.1; b.pdf p.2``), each with its parsed citation."""
    parts = re.split(r"\s*[;,]\s*(?=[^;,]+?\s+p(?:age|\.)?\s*\d+)", inside)
    return [(part, _ONE_CITATION.match(part)) for part in parts]


def find_citations(text: str, pages: Sequence[RetrievedPage]) -> list[RetrievedPage]:
    """The retrieved pages that ``text`` cites as ``[file p.N]`` (several in one bracket separated
    by ``;``), in order of first citation; citations of pages not retrieved are ignored."""
    keys = _page_keys(pages)
    cited: dict[str, RetrievedPage] = {}
    for bracket in _BRACKETS.finditer(text):
        for _, match in _split(bracket.group(1)):
            page = keys.get(_citation_key(*match.groups())) if match else None
            if page is not None:
                cited.setdefault(page.page_id, page)
    return list(cited.values())


def link_citations(text: str, pages: Sequence[RetrievedPage],
                   link: Callable[[RetrievedPage, str], str]) -> str:
    """``text`` with every ``[file p.N]`` of a retrieved page replaced by ``link(page, label)``."""
    keys = _page_keys(pages)

    def replace(bracket: re.Match[str]) -> str:
        parts = _split(bracket.group(1))
        found = [(part, keys.get(_citation_key(*m.groups())) if m else None) for part, m in parts]
        if not any(page for _, page in found):
            return bracket.group(0)
        return "; ".join(link(page, part.strip()) if page else part.strip() for part, page in found)

    return _BRACKETS.sub(replace, text)


# -- messages ----------------------------------------------------------------------------------
def _human(text: str) -> Any:
    from langchain_core.messages import HumanMessage

    return HumanMessage(text)


def _history_messages(history: Sequence[Exchange]) -> list[BaseMessage]:
    from langchain_core.messages import AIMessage

    messages: list[BaseMessage] = []
    for exchange in list(history)[-MAX_HISTORY:]:
        messages += [_human(exchange.question), AIMessage(exchange.answer)]
    return messages
