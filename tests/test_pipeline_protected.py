"""What is stored from protected files: the report says a decrypted file's pages are stored in
clear, and store_text=False / store_images=False keep the text and images out of the index."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from metaembed_rag.index import PageIndex
from metaembed_rag.pipeline import index_folder


def write_pdf(path: Path, text: str, password: str | None = None) -> Path:
    pdf = FPDF(unit="pt")
    pdf.set_font("Helvetica", size=24)
    pdf.add_page()
    pdf.multi_cell(0, 30, text)
    if password is not None:
        pdf.set_encryption(owner_password="owner", user_password=password)
    pdf.output(str(path))
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    write_pdf(docs / "secret.pdf", "Salary bands for 2025", password="pw")
    write_pdf(docs / "public.pdf", "Cafeteria opening hours")
    return docs


def run(folder: Path, tmp_path: Path, model, **options) -> tuple[object, PageIndex]:
    index = PageIndex.create(tmp_path / "index", fingerprint=model)
    report = index_folder(folder, index, model, password="pw", show_progress_bar=False, **options)
    return report, index


def test_a_decrypted_file_is_flagged_and_its_text_and_image_are_stored_in_clear(folder, tmp_path, minilm):
    report, index = run(folder, tmp_path, minilm)
    with index:
        assert [(Path(f.path).name, f.decrypted) for f in report.files] == [
            ("public.pdf", False), ("secret.pdf", True)]  # fmt: skip
        assert [Path(f.path).name for f in report.decrypted] == ["secret.pdf"]
        page = index.get("secret.pdf:1")
        assert "Salary bands" in page.fields["text"] and page.image_bytes() is not None
    lines = report.summary().splitlines()
    assert lines[-1] == (
        "  note: 1 encrypted file(s) were decrypted with the password; their text layer and page images "
        "are stored in the index UNENCRYPTED (store_text=False / store_images=False, CLI --no-text / "
        "--no-images, keep them out)"
    )


def test_store_text_false_stores_no_text_but_keeps_images(folder, tmp_path, minilm):
    report, index = run(folder, tmp_path, minilm, store_text=False)
    with index:
        texts = {p.page_id: p.fields["text"] for p in index.pages()}
        assert texts == {"public.pdf:1": "", "secret.pdf:1": ""}
        assert index.get("secret.pdf:1").image_bytes() is not None
    assert "their page images are stored in the index UNENCRYPTED" in report.summary()


def test_storing_neither_says_only_vectors_were_kept(folder, tmp_path, minilm):
    report, index = run(folder, tmp_path, minilm, store_text=False, store_images=False)
    with index:
        page = index.get("secret.pdf:1")
        assert page.fields["text"] == "" and page.image_bytes() is None
    assert report.summary().splitlines()[-1].endswith("neither their text nor their page images were "
                                                      "stored (vectors only)")


def test_no_note_without_encrypted_files(folder, tmp_path, minilm):
    (folder / "secret.pdf").unlink()
    report, index = run(folder, tmp_path, minilm)
    index.close()
    assert report.decrypted == [] and "note:" not in report.summary()
