"""``metaembed-rag chat INDEX_OR_FOLDER``: open an index, or index a folder, then serve the app.

A folder is indexed incrementally into ``--index`` or, by default, ``FOLDER.metaembed-index``
beside it (a second run only indexes what changed). Uploads are kept in ``INDEX.uploads`` beside
the index, so they are still there after a restart. The app binds 127.0.0.1 unless ``--host``
says otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..retriever import Retriever

__all__ = ["default_index_path", "open_retriever", "run", "uploads_path"]

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def default_index_path(folder: Path) -> Path:
    """Where a folder's index goes without ``--index``: ``FOLDER.metaembed-index`` beside it."""
    folder = folder.resolve()
    return folder.with_name(folder.name + ".metaembed-index")


def uploads_path(index: Path) -> Path:
    return index.resolve().with_name(index.resolve().name + ".uploads")


def _is_index(path: Path) -> bool:
    from ..index.manifest import MANIFEST_NAME

    return (path / MANIFEST_NAME).is_file()


def open_retriever(target: Path, index: Path | None, model: str | None, *,
                   show_progress_bar: bool = True) -> tuple[Retriever, Path]:
    """The retriever over ``target`` (an index, or a folder indexed first) and its index path."""
    if not target.exists():
        raise FileNotFoundError(f"{target} does not exist: pass an index or a folder of PDFs")
    if _is_index(target):
        return Retriever.open(target, model=model), target
    if not target.is_dir():
        raise NotADirectoryError(f"{target} is neither an index nor a folder of PDFs")
    index = index or default_index_path(target)
    print(f"indexing {target} into {index} (incremental: unchanged files are skipped)", file=sys.stderr)
    retriever = Retriever.from_pdfs(target, index=index, model=model, show_progress_bar=show_progress_bar)
    if retriever.last_report is not None:
        print(retriever.last_report.summary(), file=sys.stderr)
    return retriever, index


def run(args: argparse.Namespace) -> int:
    try:
        import gradio  # noqa: F401
        import langchain_core  # noqa: F401
    except ImportError as error:
        raise RuntimeError(
            f"the chat app needs its extra: pip install 'metaembed-rag[app]' ({error})"
        ) from None
    from .engine import ChatEngine
    from .llm import load_chat_model
    from .render import CSS
    from .ui import build_app

    llm = load_chat_model(args.llm)  # fail on a bad --llm before indexing anything
    retriever, index = open_retriever(Path(args.target), Path(args.index) if args.index else None, args.model)
    engine = ChatEngine(retriever, llm, vision=args.vision)
    if args.host not in LOCAL_HOSTS:
        print(f"warning: serving on {args.host}: anyone who can reach this machine on port {args.port} can "
              "read the indexed documents and add files; use the default 127.0.0.1 unless you mean it",
              file=sys.stderr)
    uploads = uploads_path(index)
    max_bytes = int(args.max_upload_mb * 2**20)
    app = build_app(engine, uploads, max_upload_bytes=max_bytes)
    print(f"index: {index} ({len(retriever)} pages); uploads go to {uploads}", file=sys.stderr)
    if llm is None:
        print("no language model configured (--llm or METAEMBED_RAG_LLM): retrieval-only mode",
              file=sys.stderr)
    app.queue(default_concurrency_limit=4).launch(
        server_name=args.host, server_port=args.port, allowed_paths=[str(index.resolve() / "images")],
        max_file_size=max_bytes, css=CSS, show_error=True, inbrowser=False, share=False,
    )
    return 0
