"""Fixtures of the chat app tests: a small index of two sample PDFs, and a chat model that records
what it is sent."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import BaseMessage
from pydantic import Field

from metaembed_rag.retriever import Retriever

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
PDFS = ("harvest-table-recipes.pdf", "wayfarer-travel-claim-form.pdf")


class RecordingChatModel(GenericFakeChatModel):
    """langchain-core's fake chat model, answering from ``messages`` in turn, that keeps every
    message list it was sent in ``received``."""

    received: list[list[BaseMessage]] = Field(default_factory=list)
    model_name: str = "fake-text-model"

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> Any:
        self.received.append(list(messages))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


@pytest.fixture(scope="session")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two sample PDFs (12 pages) indexed with the bundled default model."""
    root = tmp_path_factory.mktemp("chat")
    folder = root / "pdfs"
    folder.mkdir()
    for name in PDFS:
        shutil.copyfile(SAMPLES / "pdfs" / name, folder / name)
    with Retriever.from_pdfs(folder, index=root / "idx", show_progress_bar=False) as retriever:
        assert len(retriever) == 12
    return root / "idx"


@pytest.fixture
def retriever(small_index: Path) -> Iterator[Retriever]:
    with Retriever.open(small_index, k=3) as opened:
        yield opened


def write_pdf(path: Path, pages: list[str]) -> Path:
    """A PDF with one page of text per item, written with fpdf2 (the dev extra)."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="A4")
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.set_xy(40, 60)
        pdf.multi_cell(0, 16, text)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def fake(*answers: str, name: str = "fake-text-model", **fields: Any) -> RecordingChatModel:
    return RecordingChatModel(messages=iter(answers), model_name=name, **fields)
