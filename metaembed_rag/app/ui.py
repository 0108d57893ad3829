"""The Gradio app: a chat panel with each answer's pages beside it, search controls and uploads.

Per browser tab the conversation lives in a ``gr.State`` (a list of :class:`Exchange`), so tabs
never see each other's history; the chat handler runs with a concurrency limit above one, so two
tabs asking at once are answered side by side (the Retriever is thread-safe).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..budget import Budget
from .engine import ChatEngine, Exchange, SearchSettings
from .render import CSS, render_answer
from .uploads import ALLOWED_SUFFIXES, DEFAULT_MAX_BYTES, add_uploads

__all__ = ["CSS", "build_app"]

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home from a local app

CONCURRENCY = 4


def _budget_label(budget: Budget) -> str:
    return f"({budget.r_q}, {budget.r_c})"


def _engine_line(engine: ChatEngine) -> str:
    from .llm import model_name

    if engine.llm is None:
        mode = "**retrieval-only mode** (no language model configured; start with `--llm provider:model`)"
    else:
        reads = "page images" if engine.vision else "text layers"
        mode = f"answers by **{model_name(engine.llm)}** ({reads})"
    documents = engine.documents()
    return (f"{len(engine.retriever)} pages in {len(documents)} documents · "
            f"model `{engine.retriever.model.config.name}` · {mode}")


def build_app(engine: ChatEngine, uploads: Path, *, max_upload_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """The ``gr.Blocks`` app over ``engine``; uploads are stored in ``uploads``."""
    import gradio as gr

    budgets = engine.budgets()
    labels = {_budget_label(b): b for b in budgets}
    default = engine.retriever.budget if engine.retriever.budget in budgets else budgets[-1]

    def respond(message: str, chat: list[dict[str, Any]], history: list[Exchange], budget: str, k: float,
                hybrid: bool, documents: list[str] | None) -> Iterator[tuple[Any, ...]]:
        message = (message or "").strip()
        if not message:
            yield "", chat, history
            return
        chat = [*chat, {"role": "user", "content": message},
                {"role": "assistant", "content": "Searching the pages…"}]
        yield "", chat, history
        settings = SearchSettings(budget=labels.get(budget, default), k=int(k), hybrid=bool(hybrid),
                                  documents=tuple(documents or ()))
        try:
            answer = engine.ask(message, history, settings)
        except Exception as error:  # shown in the chat, the app keeps running
            chat[-1] = {"role": "assistant", "content": f"The search failed: {type(error).__name__}: {error}"}
            yield "", chat, history
            return
        chat[-1] = {"role": "assistant", "content": render_answer(answer, uuid.uuid4().hex[:8])}
        shown = answer.answer if answer.answer is not None else "Pages: " + ", ".join(
            p.citation for p in answer.cited)
        yield "", chat, [*history, Exchange(message, shown)]

    progress_bar = gr.Progress(track_tqdm=True)  # shows index_folder's tqdm bar in the UI

    def upload(files: list[str] | None, progress: Any = progress_bar) -> tuple[Any, ...]:
        if not files:
            return "No file was uploaded.", gr.update(), _engine_line(engine)
        try:
            result = add_uploads(engine.retriever, files, uploads, max_bytes=max_upload_bytes)
            text = result.summary()
        except Exception as error:  # the index is committed page batch by page batch: nothing is lost
            text = f"**The upload could not be indexed**: {type(error).__name__}: {error}"
        return text, gr.update(choices=engine.documents()), _engine_line(engine)

    with gr.Blocks(title="metaembed-rag chat") as app:
        gr.Markdown("## metaembed-rag chat")
        status = gr.Markdown(_engine_line(engine), elem_id="me-status")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Chat", height=620, elem_id="me-chat", sanitize_html=True,
                                     feedback_options=None, placeholder="Ask a question about the documents.")
                with gr.Row():
                    box = gr.Textbox(show_label=False, placeholder="Ask about your documents…", scale=6,
                                     elem_id="me-question", autofocus=True)
                    ask = gr.Button("Ask", variant="primary", scale=1, elem_id="me-ask")
            with gr.Column(scale=1, min_width=260):
                budget = gr.Dropdown(list(labels), value=_budget_label(default), label="Budget (r_q, r_c)",
                                     info="query × page vectors scored: cheap and rough → exact",
                                     elem_id="me-budget")
                k = gr.Slider(1, 10, value=engine.retriever.k, step=1, label="Pages to retrieve (k)",
                              elem_id="me-k")
                hybrid = gr.Checkbox(label="Hybrid: fuse with BM25 over the page text", elem_id="me-hybrid")
                documents = gr.Dropdown(engine.documents(), multiselect=True, label="Documents (none: all)",
                                        elem_id="me-documents")
                add = gr.UploadButton(f"Add PDFs or images (≤ {max_upload_bytes / 2**20:.0f} MiB)",
                                      file_types=list(ALLOWED_SUFFIXES), file_count="multiple",
                                      elem_id="me-upload")
                upload_status = gr.Markdown(elem_id="me-upload-status")
        history = gr.State([])
        inputs = [box, chatbot, history, budget, k, hybrid, documents]
        outputs = [box, chatbot, history]
        for trigger in (box.submit, ask.click):
            trigger(respond, inputs, outputs, concurrency_limit=CONCURRENCY, api_name=False)
        add.upload(upload, [add], [upload_status, documents, status], concurrency_limit=1, api_name=False)
    return app
