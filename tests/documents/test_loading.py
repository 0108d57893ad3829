"""load_folder / load_files: order (also in parallel), reports, streaming contract."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from metaembed_rag.documents import FileStatus, LoadReport, load_files, load_folder
from metaembed_rag.documents import render as render_module

from .conftest import MakePdf


@pytest.fixture
def corpus(tmp_path: Path, make_pdf: MakePdf) -> Path:
    """Four PDFs of 1, 7, 3 and 10 pages plus one image, each page with its own text."""
    for name, count in [("a.pdf", 1), ("b/b.pdf", 7), ("b/c.pdf", 3), ("d.pdf", 10)]:
        make_pdf(name, [f"{name} page {i}" for i in range(1, count + 1)])
    Image.new("RGB", (60, 40), "red").save(tmp_path / "b" / "e.png")
    return tmp_path


EXPECTED_IDS = (
    ["a.pdf:1"]
    + [f"b/b.pdf:{i}" for i in range(1, 8)]
    + [f"b/c.pdf:{i}" for i in range(1, 4)]
    + ["b/e.png:1"]
    + [f"d.pdf:{i}" for i in range(1, 11)]
)


def _fingerprint(corpus: Path, **kwargs: object) -> list[tuple[str, str, str]]:
    return [
        (page.page_id, page.text.strip(), hashlib.md5(page.image.tobytes()).hexdigest())
        for page in load_folder(corpus, dpi=30, **kwargs)  # type: ignore[arg-type]
    ]


def test_sequential_order_is_file_order_then_page_order(corpus: Path) -> None:
    pages = _fingerprint(corpus)
    assert [page_id for page_id, _, _ in pages] == EXPECTED_IDS
    for page_id, text, _ in pages:
        if not page_id.endswith(".png:1"):
            doc_id, number = page_id.rsplit(":", 1)
            assert text == f"{doc_id} page {number}"


@pytest.mark.parametrize("pages_per_task", [1, 3])
def test_parallel_rendering_gives_the_same_pages_in_the_same_order(corpus: Path, pages_per_task: int) -> None:
    sequential = _fingerprint(corpus)
    parallel = _fingerprint(corpus, workers=2, pages_per_task=pages_per_task)
    assert parallel == sequential


def test_report_describes_every_file(corpus: Path) -> None:
    stream = load_folder(corpus, dpi=30)
    assert stream.report.files == []  # filled while streaming
    pages = list(stream)
    report = stream.report
    assert isinstance(report, LoadReport) and report.ok and len(report) == 5
    assert [f.doc_id for f in report.files] == ["a.pdf", "b/b.pdf", "b/c.pdf", "b/e.png", "d.pdf"]
    assert all(f.status is FileStatus.RENDERED and f.num_pages == f.page_count for f in report.files)
    assert [f.kind for f in report.files] == ["pdf", "pdf", "pdf", "image", "pdf"]
    assert report.num_pages == len(pages) == 22
    by_id = report.by_doc_id()
    assert by_id["b/b.pdf"].file_hash == hashlib.sha256((corpus / "b" / "b.pdf").read_bytes()).hexdigest()
    assert report.summary() == "5 files, 22 pages: 5 rendered"


def test_load_files_keeps_the_given_order_and_ids(corpus: Path) -> None:
    paths = [corpus / "d.pdf", corpus / "a.pdf"]
    pages, _ = load_files(paths, dpi=30).collect()
    assert pages[0].doc_id == (corpus / "d.pdf").as_posix() and pages[-1].page_id.endswith("a.pdf:1")
    assert [p.source for p in pages[:1]] == [str(corpus / "d.pdf")]
    relative, _ = load_files(paths, root=corpus, dpi=30).collect()
    assert [p.page_id for p in relative][-2:] == ["d.pdf:10", "a.pdf:1"]


def test_a_stream_is_iterated_once(corpus: Path) -> None:
    stream = load_folder(corpus, dpi=30)
    list(stream)
    with pytest.raises(RuntimeError, match="only once"):
        iter(stream)


def test_a_failure_half_way_through_a_file_is_reported(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = render_module.render_page

    def flaky(doc, index, options):  # type: ignore[no-untyped-def]
        if doc is not None and index == 4 and len(doc) == 7:
            raise RuntimeError("simulated rasteriser failure")
        return real(doc, index, options)

    monkeypatch.setattr(render_module, "render_page", flaky)
    pages, report = load_folder(corpus, dpi=30).collect()
    assert [p.page_id for p in pages if p.doc_id == "b/b.pdf"] == [f"b/b.pdf:{i}" for i in range(1, 5)]
    assert len(pages) == 22 - 3  # pages 5-7 of b/b.pdf are missing, every other file is complete
    failed = report.failed
    assert [(f.doc_id, f.num_pages, f.page_count) for f in failed] == [("b/b.pdf", 4, 7)]
    assert failed[0].error_kind == "render_failed"
    assert "rendering failed on page 5" in (failed[0].reason or "")
    assert "simulated rasteriser failure" in (failed[0].reason or "")


def test_progress_bar_counts_pages(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    list(load_folder(corpus, dpi=30, show_progress_bar=True))
    assert "22/22" in capsys.readouterr().err


def test_walk_errors_and_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        load_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="pages_per_task"):
        load_files([], pages_per_task=0)
