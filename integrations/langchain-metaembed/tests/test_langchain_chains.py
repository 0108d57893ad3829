"""Real LCEL chains over the sample PDFs with langchain-core's fake chat models: the right page's text
and image reach the model's input."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.documents import Document
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_metaembed import MetaEmbedRetriever, pages_to_message_content
from langchain_samples import REPORT
from pydantic import Field

NA_QUERY = "How much revenue did Lumen Harbor make in North America?"
DAY_PASS = "How much is a day pass on Riverton Metro?"


class RecordingChatModel(GenericFakeChatModel):
    """langchain-core's fake chat model, keeping the messages each call hands to the model itself
    (callbacks see a tracing copy with images rewritten to ``image_url``; this is the real input)."""

    calls: list[list[BaseMessage]] = Field(default_factory=list)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        return super()._generate(messages, stop, run_manager, **kwargs)


def fake_model(*answers: str) -> RecordingChatModel:
    return RecordingChatModel(messages=iter([AIMessage(a) for a in answers]))


def image_blocks(message: BaseMessage) -> list[dict[str, Any]]:
    return [b for b in message.content if isinstance(b, dict) and b.get("type") == "image"]


def format_docs(docs: list[Document]) -> str:
    return "\n\n".join(f"[{Path(d.metadata['source']).name} p.{d.metadata['page']}]\n{d.page_content}"
                       for d in docs)


def test_a_text_rag_chain_puts_the_right_page_in_the_prompt(retriever: MetaEmbedRetriever) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from these pages and cite them:\n{context}"), ("human", "{question}")]
    )
    chain = {"context": retriever | format_docs, "question": RunnablePassthrough()} | prompt
    model = fake_model("EUR 121.7 million [p.4]")
    chain = chain | model | StrOutputParser()
    assert chain.invoke(NA_QUERY) == "EUR 121.7 million [p.4]"
    (call,) = model.calls
    system, human = call
    assert f"[{REPORT} p.4]" in system.content
    assert "North America grew fastest, by 19 percent" in system.content
    assert human.content == NA_QUERY


def test_a_vision_rag_chain_sends_the_page_images_as_standard_blocks(retriever: MetaEmbedRetriever) -> None:
    def pages_message(inputs: dict[str, Any]) -> list[BaseMessage]:
        return [HumanMessage(content=pages_to_message_content(inputs["docs"], question=inputs["question"]))]

    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the page images; cite pages."), MessagesPlaceholder("pages")]
    )
    chain = (
        {"docs": retriever.with_config(run_name="pages"), "question": RunnablePassthrough()}
        | RunnableLambda(lambda x: {"pages": pages_message(x)})
        | prompt
        | (model := fake_model("EUR 121.7 million"))
    )
    chain.invoke(NA_QUERY)
    (call,) = model.calls
    human = call[1]
    docs = retriever.invoke(NA_QUERY)
    text = f"[{REPORT} p.4]\n" + " ".join(docs[0].page_content.split())
    assert human.content[0] == {"type": "text", "text": text}
    images = image_blocks(human)
    assert len(images) == 3 and all(set(b) == {"type", "base64", "mime_type"} for b in images)
    assert base64.b64decode(images[0]["base64"]) == Path(docs[0].metadata["image_path"]).read_bytes()
    assert images[0]["mime_type"] == "image/png"
    assert human.content[-1] == {"type": "text", "text": NA_QUERY}


@pytest.mark.filterwarnings("ignore::langchain_core._api.LangChainDeprecationWarning")
def test_a_chat_with_history_retrieves_per_turn_and_keeps_the_history(retriever: MetaEmbedRetriever) -> None:
    histories: dict[str, InMemoryChatMessageHistory] = {}
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Answer from the pages."), MessagesPlaceholder("history"), MessagesPlaceholder("turn")]
    )

    def turn(inputs: dict[str, Any]) -> dict[str, Any]:
        docs = retriever.invoke(inputs["question"], k=1, budget=(16, 64))
        content = pages_to_message_content(docs, question=inputs["question"])
        return {"history": inputs["history"], "turn": [HumanMessage(content=content)]}

    model = fake_model("EUR 121.7 million.", "A day pass costs EUR 7.50.")
    chat = RunnableWithMessageHistory(
        RunnableLambda(turn) | prompt | model,
        lambda session_id: histories.setdefault(session_id, InMemoryChatMessageHistory()),
        input_messages_key="question",
        history_messages_key="history",
    )
    config = {"configurable": {"session_id": "s1"}}
    chat.invoke({"question": NA_QUERY}, config=config)
    chat.invoke({"question": DAY_PASS}, config=config)
    first, second = model.calls
    assert first[1].content[0]["text"].startswith(f"[{REPORT} p.4]") and len(image_blocks(first[1])) == 1
    # the second turn sees the first as history, then the timetable page with its image
    assert [m.content for m in second[1:3]] == [NA_QUERY, "EUR 121.7 million."]
    page = second[3].content
    assert page[0]["text"].startswith("[riverton-transit-timetable.pdf p.5]")
    assert "Day pass" in page[0]["text"]
    assert len(image_blocks(second[3])) == 1 and page[-1] == {"type": "text", "text": DAY_PASS}
    assert [m.content for m in histories["s1"].messages][2:] == [DAY_PASS, "A day pass costs EUR 7.50."]
