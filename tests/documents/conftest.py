"""Fixtures for the documents tests: the committed sample corpus and small PDFs made on the spot."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from fpdf import FPDF

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"

MakePdf = Callable[..., Path]


def write_pdf(
    path: Path,
    texts: Sequence[str],
    *,
    size: tuple[float, float] | str = "A4",
    orientation: str = "portrait",
    owner_password: str | None = None,
    user_password: str | None = None,
) -> Path:
    """A PDF with one page per text (printed large, so it has a real text layer)."""
    pdf = FPDF(orientation=orientation, unit="pt", format=size)
    pdf.set_font("Helvetica", size=24)
    for text in texts:
        pdf.add_page()
        pdf.set_xy(40, 60)
        pdf.multi_cell(0, 30, text)
    if owner_password is not None:
        pdf.set_encryption(owner_password=owner_password, user_password=user_password)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path


def repeat_pages(source: Path, target: Path, count: int) -> Path:
    """A ``count``-page PDF made of copies of ``source``'s pages (fast: no re-layout)."""
    src = pdfium.PdfDocument(str(source))
    out = pdfium.PdfDocument.new()
    indices = [i % len(src) for i in range(count)]
    out.import_pages(src, indices)
    out.save(str(target))
    return target


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES / "pdfs"


@pytest.fixture
def make_pdf(tmp_path: Path) -> MakePdf:
    """``make_pdf("name.pdf", ["page 1 text", ...], **options)`` -> path under tmp_path."""

    def make(name: str, texts: Sequence[str] = ("hello",), **options: object) -> Path:
        return write_pdf(tmp_path / name, texts, **options)  # type: ignore[arg-type]

    return make
