"""The retriever inside LlamaIndex's own engines: the retrieved pages reach the LLM's input."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.chat_engine import CondensePlusContextChatEngine
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.retrievers.metaembed import MetaEmbedReranker, MetaEmbedRetriever

SOUP = "recipe for pumpkin soup"
DESCALE = "How do I descale the Brewline K7 espresso machine?"


class RecordingLLM(MockLLM):
    """LlamaIndex's MockLLM that keeps every prompt it is given and answers from a script."""

    prompts: list[str] = Field(default_factory=list, exclude=True)
    script: list[str] = Field(default_factory=list, exclude=True)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.prompts.append(prompt)
        return CompletionResponse(text=self.script.pop(0) if self.script else "An answer.")


def test_query_engine_puts_the_retrieved_pages_in_the_prompt(retriever: MetaEmbedRetriever) -> None:
    llm = RecordingLLM()
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm)
    response = engine.query(SOUP)
    expected = retriever.retrieve(SOUP)
    assert [n.node.node_id for n in response.source_nodes] == [n.node.node_id for n in expected]
    assert expected[0].node.node_id == "harvest-table-recipes.pdf:2"
    (prompt,) = llm.prompts
    assert "Roasted pumpkin soup with sage" in prompt and SOUP in prompt
    for node in expected:  # every retrieved page's text and citation, in rank order
        assert node.node.text in prompt and f"citation: {node.node.metadata['citation']}" in prompt
    positions = [prompt.index(n.node.text) for n in expected]
    assert positions == sorted(positions)
    assert "normalized_score" not in prompt and ".png" not in prompt
    assert str(response) == "An answer."


def test_query_engine_at_another_budget_with_a_reranker(retriever: MetaEmbedRetriever) -> None:
    llm = RecordingLLM()
    wide = retriever.with_options(similarity_top_k=8, budget=(1, 1))
    reranker = MetaEmbedReranker(retriever, budget=(16, 64), top_n=2)
    engine = RetrieverQueryEngine.from_args(wide, llm=llm, node_postprocessors=[reranker])
    response = engine.query(DESCALE)
    candidates = [n.node.node_id for n in wide.retrieve(DESCALE)]
    scores = retriever.core.score(DESCALE, candidates, budget=(16, 64))
    best = [c for _, c in sorted(zip(scores, candidates, strict=True), reverse=True)[:2]]
    assert [n.node.node_id for n in response.source_nodes] == best
    assert [n.score for n in response.source_nodes] == sorted(scores, reverse=True)[:2]
    (prompt,) = llm.prompts
    assert all(n.node.text in prompt for n in response.source_nodes)


def test_chat_engine_condenses_then_retrieves_into_the_context(retriever: MetaEmbedRetriever) -> None:
    llm = RecordingLLM()
    llm.script = ["Pumpkin soup needs pumpkin.", DESCALE, "Use the descaling programme."]
    chat = CondensePlusContextChatEngine.from_defaults(retriever, llm=llm)
    first = chat.chat(SOUP)
    assert str(first) == "Pumpkin soup needs pumpkin."
    (prompt,) = llm.prompts
    assert "Roasted pumpkin soup with sage" in prompt and SOUP in prompt
    assert [n.node.node_id for n in first.source_nodes] == [n.node.node_id for n in retriever.retrieve(SOUP)]
    # second turn: the LLM condenses history + question (scripted: DESCALE), then that is retrieved
    second = chat.chat("And how do I descale my machine?")
    condense, answer = llm.prompts[1:]
    assert "Pumpkin soup needs pumpkin." in condense and "And how do I descale my machine?" in condense
    expected = retriever.retrieve(DESCALE)
    assert [n.node.node_id for n in second.source_nodes] == [n.node.node_id for n in expected]
    assert expected[0].node.metadata["doc_id"] == "brewline-k7-espresso-manual.pdf"
    assert all(n.node.text in answer for n in expected)
    assert str(second) == "Use the descaling programme."


class RecordingVisionLLM(MockLLM):
    """A chat MockLLM that keeps every message list it is given (image blocks included)."""

    calls: list[list[ChatMessage]] = Field(default_factory=list, exclude=True)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        self.calls.append(list(messages))
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content="An answer."))


def test_page_images_and_text_reach_a_multimodal_llm(retriever: MetaEmbedRetriever) -> None:
    llm = RecordingVisionLLM(is_chat_model=True)
    engine = RetrieverQueryEngine.from_args(retriever, llm=llm, multimodal=True)
    response = engine.query(SOUP)
    nodes = [n.node for n in response.source_nodes]
    assert [n.node_id for n in nodes] == [n.node.node_id for n in retriever.retrieve(SOUP)]
    # compact-and-refine packs pages by the model's context window: collect every call's blocks
    calls = [[b for message in call for b in message.blocks] for call in llm.calls]
    images = [b for blocks in calls for b in blocks if isinstance(b, ImageBlock)]
    assert len(images) == len(nodes) == 3
    for block, node in zip(images, nodes, strict=True):
        data = Path(node.image_path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and block.image_mimetype == "image/png"
        assert str(block.url) == "data:image/png;base64," + base64.b64encode(data).decode()
        # the page's text layer and citation travel in the same call as its image
        (call,) = [blocks for blocks in calls if any(b is block for b in blocks)]
        text = "".join(b.text for b in call if isinstance(b, TextBlock))
        assert node.text.strip() in text and node.metadata["citation"] in text and SOUP in text
    assert "Roasted pumpkin soup with sage" in nodes[0].text
    assert str(response) == "An answer."
