"""pypdfium2 and poppler agree on the sample corpus; a missing poppler is explained, not a crash."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from metaembed_rag.documents import RendererUnavailableError, load_folder, render_file

from .conftest import MakePdf

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None,
    reason="poppler-utils (pdftoppm) is not installed: apt-get install poppler-utils / brew install poppler",
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def _difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute grey-level difference (0-255) of two renderings, compared at a common size."""
    size = (min(a.width, b.width), min(a.height, b.height))
    small_a, small_b = (
        im.convert("L").resize((size[0] // 4, size[1] // 4), Image.Resampling.BOX) for im in (a, b)
    )
    return ImageStat.Stat(ImageChops.difference(small_a, small_b)).mean[0]


@needs_poppler
def test_both_renderers_agree_on_the_samples(samples_dir: Path) -> None:
    pdfium_pages, pdfium_report = load_folder(samples_dir, dpi=60).collect()
    poppler_pages, poppler_report = load_folder(samples_dir, dpi=60, renderer="poppler").collect()
    assert pdfium_report.ok and poppler_report.ok
    assert [f.page_count for f in poppler_report.files] == [f.page_count for f in pdfium_report.files]
    assert [p.page_id for p in poppler_pages] == [p.page_id for p in pdfium_pages]
    assert len(pdfium_pages) == 50
    for ours, theirs in zip(pdfium_pages, poppler_pages, strict=True):
        assert abs(ours.width - theirs.width) <= 1 and abs(ours.height - theirs.height) <= 1, ours.page_id
        assert ours.content_hash == theirs.content_hash
        a, b = _words(ours.text), _words(theirs.text)
        assert len(a & b) / max(1, len(a | b)) >= 0.9, (ours.page_id, sorted(a ^ b)[:20])
        assert _difference(ours.image, theirs.image) < 8, ours.page_id


@needs_poppler
def test_poppler_applies_dpi_and_max_pixels_like_pdfium(make_pdf: MakePdf) -> None:
    path = make_pdf("a4.pdf", ["one", "two"])
    for dpi, max_pixels in [(72, None), (150, None), (300, 200_000)]:
        ours = list(render_file(path, dpi=dpi, max_pixels=max_pixels))
        theirs = list(render_file(path, dpi=dpi, max_pixels=max_pixels, renderer="poppler"))
        for a, b in zip(ours, theirs, strict=True):
            assert abs(a.width - b.width) <= 1 and abs(a.height - b.height) <= 1
            if max_pixels is not None:
                assert b.width * b.height <= max_pixels
        assert "two" in theirs[1].text and "one" not in theirs[1].text


@needs_poppler
def test_poppler_in_parallel_workers(make_pdf: MakePdf, tmp_path: Path) -> None:
    make_pdf("long.pdf", [f"page {i}" for i in range(1, 8)])
    pages = list(load_folder(tmp_path, dpi=30, renderer="poppler", workers=2, pages_per_task=3))
    assert [p.page_number for p in pages] == list(range(1, 8))
    assert [p.text.strip() for p in pages] == [f"page {i}" for i in range(1, 8)]


def test_missing_pdftoppm_says_how_to_install_it(
    make_pdf: MakePdf, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_pdf("doc.pdf")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(RendererUnavailableError) as caught:
        render_file(path, renderer="poppler")
    message = str(caught.value)
    for hint in ["apt-get install poppler-utils", "brew install poppler", "conda", "renderer='pdfium'"]:
        assert hint in message
    with pytest.raises(RendererUnavailableError, match=f"not found in {empty}"):
        load_folder(tmp_path, renderer="poppler", poppler_path=str(empty))
    (page,) = render_file(path)  # the default renderer needs nothing from PATH
    assert page.width > 0


def test_missing_pdf2image_says_which_extra_to_install(
    make_pdf: MakePdf, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pdf2image", None)  # makes `import pdf2image` fail
    with pytest.raises(RendererUnavailableError, match=r"metaembed-rag\[poppler\]"):
        render_file(make_pdf("doc.pdf"), renderer="poppler")
