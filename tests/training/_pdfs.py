"""Small PDFs with real text layers and bookmarks, written with fpdf2 at test time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF


@dataclass
class PageSpec:
    """One page: its body text and the bookmarks (outline entries) that point to it."""

    text: str
    bookmarks: Sequence[str] = field(default_factory=tuple)


def write_pdf(path: Path, pages: Sequence[PageSpec | str]) -> Path:
    """A PDF with one page per spec; bookmarks become the document outline (get_toc())."""
    pdf = FPDF(unit="pt", format="A4")
    pdf.set_font("Helvetica", size=11)
    for spec in pages:
        spec = PageSpec(spec) if isinstance(spec, str) else spec
        pdf.add_page()
        pdf.set_xy(40, 50)
        for title in spec.bookmarks:
            pdf.start_section(title, level=0)
        pdf.multi_cell(0, 14, spec.text)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
