"""One chat answer as the HTML the chat panel shows (no Gradio import: testable as strings).

Every answer carries its pages beside it: a strip of thumbnails (file name and page number under
each, click to enlarge in an overlay, click again to close; pure CSS ``:target``, no script). The
answer's ``[file p.N]`` citations are links to those thumbnails. All text from the model or the
documents is HTML-escaped before it is shown; only the markup made here is HTML.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

from ..context import page_excerpt
from ..retriever import RetrievedPage
from .engine import ChatAnswer, link_citations

__all__ = ["CSS", "image_url", "render_answer"]

CSS = """
.me-pages { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
.me-thumb { display: flex; flex-direction: column; align-items: center; width: 118px;
  text-decoration: none !important; font-size: 12px; line-height: 1.2; }
.me-thumb img { width: 110px; height: auto; border: 1px solid #bbb; border-radius: 4px;
  margin: 0 !important; }
.me-thumb:target img { outline: 3px solid #f97316; }
.me-zoom { display: none; }
.me-zoom:target { display: flex; position: fixed; inset: 0; z-index: 1000; background: rgba(0,0,0,.8);
  flex-direction: column; align-items: center; justify-content: center; color: #fff !important; }
.me-zoom img { max-width: 92vw; max-height: 86vh; background: #fff; }
.me-notice { border-left: 4px solid #f59e0b; padding: 4px 10px; background: rgba(245,158,11,.12); }
.me-passage { margin: 2px 0 10px 0; padding-left: 10px; border-left: 3px solid #94a3b8; }
"""


def image_url(path: Path) -> str:
    """The URL under which Gradio serves ``path`` (its folder must be in ``allowed_paths``)."""
    return f"/gradio_api/file={Path(path).resolve().as_posix()}"


def _anchor(turn: str, index: int) -> str:
    return f"me-{turn}-{index}"


def _thumbnails(pages: list[RetrievedPage], turn: str, url: Callable[[Path], str]) -> str:
    thumbs, zooms = [], []
    for i, page in enumerate(pages):
        label = html.escape(page.citation)
        anchor = _anchor(turn, i)
        if page.image_path is None:
            thumbs.append(f'<span class="me-thumb" id="{anchor}">{label}</span>')
            continue
        src = html.escape(url(page.image_path), quote=True)
        thumbs.append(
            f'<a class="me-thumb" id="{anchor}" href="#{anchor}-zoom" title="{label}: click to enlarge">'
            f'<img src="{src}" alt="{label}"><span>{label}</span></a>'
        )
        zooms.append(
            f'<a class="me-zoom" id="{anchor}-zoom" href="#{anchor}" title="click to close">'
            f'<img src="{src}" alt="{label} (enlarged)"><span>{label}</span></a>'
        )
    return f'<div class="me-pages">{"".join(thumbs)}</div>{"".join(zooms)}'


def render_answer(answer: ChatAnswer, turn: str, url: Callable[[Path], str] = image_url) -> str:
    """The chat message for ``answer``: the model's text with linked citations (or, in
    retrieval-only mode, each page's best passage), any notice, then the page thumbnails.
    ``turn`` makes the anchors unique within the page."""
    index = {page.page_id: i for i, page in enumerate(answer.cited)}

    def link(page: RetrievedPage, label: str) -> str:
        return f'<a class="me-cite" href="#{_anchor(turn, index[page.page_id])}">[{label}]</a>'

    parts: list[str] = []
    if answer.notice:
        parts.append(f'<div class="me-notice">{html.escape(answer.notice)}</div>')
    if answer.answer is not None:
        parts.append(link_citations(html.escape(answer.answer, quote=False), answer.cited, link))
    elif not answer.cited:
        parts.append("No page matches this question with the current settings (documents, k).")
    else:
        for page in answer.cited:
            passage = answer.passages.get(page.page_id) or page_excerpt(page, 200) or "(no text layer)"
            score = f" · score {page.normalized_score:.2f}" if page.normalized_score is not None else ""
            parts.append(f"{link(page, html.escape(page.citation))}{score}"
                         f'<div class="me-passage">{html.escape(passage)}</div>')
    if answer.cited:
        heading = "Pages" if answer.retrieval_only else "Cited pages"
        parts.append(f"<b>{heading}</b> (budget {answer.budget}):"
                     f"{_thumbnails(answer.cited, turn, url)}")
    return "\n\n".join(parts)
