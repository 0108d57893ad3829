"""Uploads (checked, renamed on collision, nothing lost on a bad file), the answer's HTML, and the
``chat`` command's arguments."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from metaembed_rag.app.engine import ChatAnswer, ChatEngine, SearchSettings
from metaembed_rag.app.render import render_answer
from metaembed_rag.app.serve import default_index_path, open_retriever, uploads_path
from metaembed_rag.app.uploads import add_uploads, check_upload
from metaembed_rag.cli import _parser
from metaembed_rag.retriever import Retriever

from .conftest import SAMPLES, write_pdf


@pytest.fixture
def writable(small_index: Path, tmp_path: Path) -> Retriever:
    """A copy of the small index that a test may add to."""
    shutil.copytree(small_index, tmp_path / "idx")
    with Retriever.open(tmp_path / "idx", k=3) as opened:
        yield opened


def test_check_upload_takes_only_pdfs_and_images_within_the_limit(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "ok.pdf", ["hello"])
    assert check_upload(pdf) is None
    Image.new("RGB", (20, 20), "white").save(tmp_path / "page.png")
    assert check_upload(tmp_path / "page.png") is None
    (tmp_path / "notes.txt").write_text("hello")
    assert "only PDFs and images" in check_upload(tmp_path / "notes.txt")
    (tmp_path / "fake.pdf").write_text("<html>not a pdf</html>")
    assert "not a PDF" in check_upload(tmp_path / "fake.pdf")
    (tmp_path / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert "cannot be read" in check_upload(tmp_path / "fake.png")
    assert "over the 0 MiB upload limit" in check_upload(pdf, max_bytes=100)
    (tmp_path / "empty.pdf").write_bytes(b"")
    assert check_upload(tmp_path / "empty.pdf") == "the file is empty"


def test_uploads_are_indexed_and_never_replace_or_lose_pages(writable: Retriever, tmp_path: Path) -> None:
    before = {p.page_id for p in writable.store.pages()}
    incoming = tmp_path / "incoming"
    good = write_pdf(incoming / "observatory.pdf",
                     ["The Orchid Valley observatory opens its telescope dome at 21:30 every Friday.",
                      "Entry to the observatory costs 7 euros; children go free."])
    # same name as an indexed document, other bytes: stored under a new name, the original kept
    clash = write_pdf(incoming / "harvest-table-recipes.pdf", ["A different recipe booklet."])
    broken = incoming / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    text = incoming / "notes.txt"
    text.write_text("not allowed")
    uploads = tmp_path / "uploads"
    result = add_uploads(writable, [good, clash, broken, text], uploads, show_progress_bar=False)
    renamed = "harvest-table-recipes.pdf (as harvest-table-recipes-2.pdf)"
    assert result.added == {"observatory.pdf": 2, renamed: 1}
    assert set(result.rejected) == {"broken.pdf", "notes.txt"}
    assert "only PDFs and images" in result.rejected["notes.txt"]
    assert sorted(p.name for p in uploads.iterdir()) == ["harvest-table-recipes-2.pdf", "observatory.pdf"]
    after = {p.page_id for p in writable.store.pages()}
    assert before < after and len(after) == len(before) + 3
    (hit,) = writable.search("When does the Orchid Valley observatory open?", k=1)
    assert hit.citation == "observatory.pdf p.1"
    # the same file again is recognised; the summary says what happened to each file
    again = add_uploads(writable, [good], uploads, show_progress_bar=False)
    assert again.skipped == ["observatory.pdf"] and not again.added
    assert "- added observatory.pdf: 2 pages indexed" in result.summary()
    assert "- **rejected** broken.pdf: broken.pdf: corrupt" in result.summary()
    assert str(tmp_path) not in result.summary()  # no server paths shown to the browser
    assert again.summary() == "- skipped observatory.pdf: already indexed"


def _answer(pages, text: str | None, notice: str | None = None) -> ChatAnswer:
    return ChatAnswer("q", "q", pages[0].budget, list(pages), text, list(pages), {}, notice)


def test_the_answer_html_links_citations_to_thumbnails_and_escapes_text(retriever: Retriever) -> None:
    pages = retriever.search("apple crumble", k=2)
    text = f"<script>alert(1)</script> Bake [{pages[1].citation}] & serve [{pages[0].citation}]."
    shown = render_answer(_answer(pages, text), "t1", url=lambda path: f"/img/{path.name}")
    assert "<script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert f'<a class="me-cite" href="#me-t1-1">[{pages[1].citation}]</a>' in shown
    assert f'<a class="me-cite" href="#me-t1-0">[{pages[0].citation}]</a>' in shown
    for i, page in enumerate(pages):  # each citation's target is the thumbnail of that page
        thumb = re.search(rf'<a class="me-thumb" id="me-t1-{i}" href="#me-t1-{i}-zoom"[^>]*>'
                          rf'<img src="([^"]+)" alt="([^"]+)">', shown)
        assert thumb.groups() == (f"/img/{page.image_path.name}", html.escape(page.citation))
        assert f'id="me-t1-{i}-zoom" href="#me-t1-{i}"' in shown  # the enlarged view closes back


def test_retrieval_only_html_shows_the_notice_and_each_passage(retriever: Retriever) -> None:
    answer = ChatEngine(retriever).ask("apple crumble", settings=SearchSettings(k=2))
    shown = render_answer(answer, "t2", url=lambda path: "/x")
    assert "No language model is configured" in shown
    for i, page in enumerate(answer.cited):
        assert f'href="#me-t2-{i}">[{html.escape(page.citation)}]</a>' in shown
        assert html.escape(answer.passages[page.page_id]) in shown


def test_the_core_and_the_command_line_never_import_the_app_layer() -> None:
    code = ("import sys, metaembed_rag, metaembed_rag.retriever, metaembed_rag.context; "
            "import metaembed_rag.cli as c; c._parser().parse_args(['chat', 'x']); "
            "app = ('gradio', 'langchain', 'langchain_core'); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in app))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"


def test_the_chat_command_parses_and_finds_or_builds_the_index(tmp_path: Path, small_index: Path) -> None:
    args = _parser().parse_args(["chat", str(small_index), "--llm", "ollama:qwen2.5vl", "--no-vision"])
    assert (args.target, args.llm, args.vision, args.host, args.port) == (
        str(small_index), "ollama:qwen2.5vl", False, "127.0.0.1", 7860)
    assert _parser().parse_args(["chat", "x"]).vision is None
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copyfile(SAMPLES / "pdfs" / "wayfarer-travel-claim-form.pdf", folder / "claim.pdf")
    assert default_index_path(folder) == tmp_path / "docs.metaembed-index"
    assert uploads_path(tmp_path / "docs.metaembed-index") == tmp_path / "docs.metaembed-index.uploads"
    retriever, index = open_retriever(folder, None, None, show_progress_bar=False)
    with retriever:
        assert index == tmp_path / "docs.metaembed-index" and len(retriever) == 3
    opened, same = open_retriever(index, None, None)  # an index path is opened as it is
    with opened:
        assert same == index and len(opened) == 3
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_retriever(tmp_path / "missing", None, None)
