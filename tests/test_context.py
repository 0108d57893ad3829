"""Retrieved pages as chat-model context: citations, excerpts and standard image content blocks."""

from __future__ import annotations

import base64
from pathlib import Path

from PIL import Image

from metaembed_rag import Budget
from metaembed_rag.context import content_blocks, context_text, page_excerpt
from metaembed_rag.retriever import RetrievedPage


def page(tmp_path: Path, name: str, number: int, text: str, image: bool = True) -> RetrievedPage:
    path = None
    if image:
        path = tmp_path / f"{name}-{number}.png"
        Image.new("RGB", (8, 6), "red").save(path)
    return RetrievedPage(f"{name}#{number}", 2.0, 0.5, 1, Budget(4, 8), f"/data/{name}", number, text, path)


def test_context_text_cites_each_page(tmp_path: Path) -> None:
    pages = [page(tmp_path, "a.pdf", 3, "Revenue  was\nEUR 412.6 million."),
             page(tmp_path, "b.pdf", 1, "Soup.")]
    assert context_text(pages) == "[a.pdf p.3]\nRevenue was EUR 412.6 million.\n\n[b.pdf p.1]\nSoup."


def test_excerpts_cut_at_a_word_boundary(tmp_path: Path) -> None:
    long = page(tmp_path, "a.pdf", 1, "alpha beta gamma delta")
    assert page_excerpt(long, 13) == "alpha beta …"
    assert page_excerpt(long, 100) == "alpha beta gamma delta"


def test_content_blocks_hold_citation_text_and_the_stored_image(tmp_path: Path) -> None:
    first, second = page(tmp_path, "a.pdf", 3, "Revenue."), page(tmp_path, "b.pdf", 2, "", image=False)
    blocks = content_blocks([first, second])
    assert blocks[0] == {"type": "text", "text": "[a.pdf p.3]\nRevenue."}
    assert blocks[1]["type"] == "image" and blocks[1]["mime_type"] == "image/png"
    assert base64.b64decode(blocks[1]["base64"]) == first.image_path.read_bytes()
    assert blocks[2] == {"type": "text", "text": "[b.pdf p.2]"} and len(blocks) == 3
    text_only = content_blocks([first], images=False)
    assert text_only == [{"type": "text", "text": "[a.pdf p.3]\nRevenue."}]
    assert content_blocks([first], text=False)[0] == {"type": "text", "text": "[a.pdf p.3]"}
