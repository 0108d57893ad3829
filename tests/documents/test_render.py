"""render_file on PDFs: pixel sizes from dpi and max_pixels, text layer, identity fields."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import pytest

from metaembed_rag.documents import RenderOptions, fit_scale, render_file

from .conftest import MakePdf

A4 = (595.28, 841.89)  # points


@pytest.mark.parametrize("dpi", [36, 72, 100, 144])
def test_dpi_sets_the_pixel_size(make_pdf: MakePdf, dpi: int) -> None:
    path = make_pdf("a4.pdf", ["one page"])
    (page,) = render_file(path, dpi=dpi, max_pixels=None)
    assert page.image.size == (page.width, page.height)
    assert abs(page.width - A4[0] * dpi / 72) <= 1
    assert abs(page.height - A4[1] * dpi / 72) <= 1
    assert page.image.mode == "RGB"


@pytest.mark.parametrize("max_pixels", [10_000, 250_000, 1_000_000])
def test_max_pixels_downscales_keeping_aspect_ratio(make_pdf: MakePdf, max_pixels: int) -> None:
    path = make_pdf("a4.pdf", ["one page"])
    (page,) = render_file(path, dpi=300, max_pixels=max_pixels)
    assert page.width * page.height <= max_pixels
    assert page.width * page.height > 0.95 * max_pixels  # shrunk to the budget, not far below it
    assert page.width / page.height == pytest.approx(A4[0] / A4[1], rel=0.02)


def test_max_pixels_leaves_small_pages_alone(make_pdf: MakePdf) -> None:
    path = make_pdf("a4.pdf", ["one page"])
    (capped,) = render_file(path, dpi=72, max_pixels=10**7)
    (free,) = render_file(path, dpi=72, max_pixels=None)
    assert capped.image.size == free.image.size


def test_pages_of_different_sizes_each_get_their_own(make_pdf: MakePdf, tmp_path: Path) -> None:
    portrait = make_pdf("p.pdf", ["portrait"])
    landscape = make_pdf("l.pdf", ["landscape"], orientation="landscape")
    (p,) = render_file(portrait, dpi=72)
    (wide,) = render_file(landscape, dpi=72)
    assert p.height > p.width and wide.width > wide.height
    assert (p.width, p.height) == (wide.height, wide.width)


def test_text_layer_page_numbers_and_identity(make_pdf: MakePdf, tmp_path: Path) -> None:
    path = make_pdf("three.pdf", ["alpha page", "bravo page", "charlie page"])
    pages = list(render_file(path, root=tmp_path, dpi=50))
    assert [p.page_number for p in pages] == [1, 2, 3]
    assert all(word in page.text for word, page in zip(["alpha", "bravo", "charlie"], pages, strict=True))
    assert "bravo" not in pages[0].text
    assert {p.doc_id for p in pages} == {"three.pdf"}
    assert [p.page_id for p in pages] == ["three.pdf:1", "three.pdf:2", "three.pdf:3"]
    assert {p.source for p in pages} == {str(path)}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert pages[1].content_hash == hashlib.sha256(f"{digest}:2".encode()).hexdigest()


def test_content_hash_follows_bytes_not_names(make_pdf: MakePdf, tmp_path: Path) -> None:
    path = make_pdf("doc.pdf", ["same"])
    (before,) = render_file(path, dpi=30)
    copy = tmp_path / "renamed.pdf"
    copy.write_bytes(path.read_bytes())
    (renamed,) = render_file(copy, dpi=30, root=tmp_path)
    assert renamed.content_hash == before.content_hash and renamed.doc_id != before.doc_id
    make_pdf("doc.pdf", ["edited"])
    (after,) = render_file(path, dpi=30)
    assert after.content_hash != before.content_hash


def test_render_file_checks_the_file_before_iteration(tmp_path: Path) -> None:
    from metaembed_rag.documents import FileMissingError

    with pytest.raises(FileMissingError, match="does not exist"):
        render_file(tmp_path / "nope.pdf")  # raises at the call, not at the first next()


def test_fit_scale_matches_what_pdfium_renders(make_pdf: MakePdf) -> None:
    path = make_pdf("a4.pdf", ["x"])
    options = RenderOptions(dpi=97, max_pixels=123_457)
    (page,) = render_file(path, dpi=options.dpi, max_pixels=options.max_pixels)
    scale = fit_scale(*A4, options.dpi, options.max_pixels)
    assert (page.width, page.height) == (math.ceil(A4[0] * scale), math.ceil(A4[1] * scale))
