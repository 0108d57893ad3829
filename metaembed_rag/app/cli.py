"""The ``chat`` subcommand's arguments. Imports nothing heavy: the app loads only when it runs."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser"]


def _run(args: argparse.Namespace) -> int:
    from .serve import run

    return run(args)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    chat = commands.add_parser(
        "chat", help="a local web app to ask questions about an index or a folder of PDFs (needs [app])",
        description="Serve a chat app over INDEX_OR_FOLDER: an index is opened; a folder is indexed "
                    "incrementally first (into --index, default FOLDER.metaembed-index beside it).",
    )
    chat.add_argument("target", metavar="INDEX_OR_FOLDER")
    chat.add_argument("--index", help="index for a folder (default: FOLDER.metaembed-index beside it)")
    chat.add_argument("--llm", help="init_chat_model string, e.g. openai:gpt-4o-mini or ollama:qwen2.5vl "
                                    "(default: $METAEMBED_RAG_LLM; neither: retrieval-only mode)")
    chat.add_argument("--vision", action=argparse.BooleanOptionalAction, default=None,
                      help="send page images (--vision) or text layers (--no-vision) to the model "
                           "(default: from the model's profile or name)")
    chat.add_argument("--model", help="MetaEmbed model (default: the one recorded in the index)")
    chat.add_argument("--host", default="127.0.0.1",
                      help="address to bind (default 127.0.0.1: this machine only)")
    chat.add_argument("--port", type=int, default=7860)
    chat.add_argument("--max-upload-mb", type=float, default=50.0, help="upload size limit per file")
    chat.set_defaults(run=_run)
    return chat
