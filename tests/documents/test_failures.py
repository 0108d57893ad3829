"""Every kind of broken file is reported with its cause and fix, and never stops the batch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from metaembed_rag.documents import (
    CorruptFileError,
    DocumentError,
    EmptyDocumentError,
    EncryptedDocumentError,
    FileMissingError,
    FileStatus,
    NotAPdfError,
    UnreadableFileError,
    UnsupportedFileError,
    load_files,
    load_folder,
    render_file,
)

from .conftest import REPO, MakePdf, write_pdf


def _zero_page_pdf(path: Path) -> Path:
    doc = pdfium.PdfDocument.new()
    doc.new_page(200, 200)
    del doc[0]
    doc.save(str(path))
    return path


@pytest.fixture
def broken_corpus(tmp_path: Path, make_pdf: MakePdf) -> Path:
    """A folder with good files interleaved with one file of each broken kind."""
    make_pdf("a-good.pdf", ["first good file"])
    make_pdf("b-encrypted.pdf", ["secret page"], owner_password="owner", user_password="s3cret")
    (tmp_path / "c-corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    good = (tmp_path / "a-good.pdf").read_bytes()
    (tmp_path / "d-truncated.pdf").write_bytes(good[: len(good) // 3])
    _zero_page_pdf(tmp_path / "e-empty.pdf")
    (tmp_path / "f-html.pdf").write_text("<!DOCTYPE html><html><body>Please log in</body></html>")
    Image.new("RGB", (8, 8)).save(tmp_path / "g-image.pdf", format="PNG")
    (tmp_path / "h-zero-bytes.pdf").write_bytes(b"")
    (tmp_path / "i-missing.pdf").symlink_to(tmp_path / "nowhere.pdf")
    make_pdf("z-good.pdf", ["last good file", "second page"])
    return tmp_path


EXPECTED = {
    "b-encrypted.pdf": (EncryptedDocumentError, "password='...'"),
    "c-corrupt.pdf": (CorruptFileError, "qpdf"),
    "d-truncated.pdf": (CorruptFileError, "corrupt"),
    "e-empty.pdf": (EmptyDocumentError, "no pages"),
    "f-html.pdf": (NotAPdfError, "HTML page"),
    "g-image.pdf": (NotAPdfError, "PNG image"),
    "h-zero-bytes.pdf": (CorruptFileError, "0 bytes"),
    "i-missing.pdf": (FileMissingError, "does not exist"),
}


@pytest.mark.parametrize("workers", [1, 2])
def test_failures_are_collected_and_the_batch_goes_on(broken_corpus: Path, workers: int) -> None:
    stream = load_folder(broken_corpus, workers=workers, dpi=30)
    pages, report = stream.collect()
    assert [p.page_id for p in pages] == ["a-good.pdf:1", "z-good.pdf:1", "z-good.pdf:2"]
    assert [f.doc_id for f in report.files] == sorted(f.doc_id for f in report.files)  # file order kept
    assert [f.doc_id for f in report.rendered] == ["a-good.pdf", "z-good.pdf"]
    failed = {f.doc_id: f for f in report.failed}
    assert set(failed) == set(EXPECTED)
    for name, (error_type, phrase) in EXPECTED.items():
        record = failed[name]
        assert record.status is FileStatus.FAILED and record.num_pages == 0
        assert record.error_kind == error_type.kind, name
        assert record.reason is not None and record.reason.startswith(str(broken_corpus / name)), name
        assert phrase in record.reason, (name, record.reason)
    summary = report.summary()
    assert summary.startswith("10 files, 3 pages: ") and "2 rendered" in summary and "8 failed" in summary
    assert not report.ok


def test_password_opens_an_encrypted_pdf(make_pdf: MakePdf, tmp_path: Path) -> None:
    path = make_pdf("locked.pdf", ["classified text"], owner_password="owner", user_password="s3cret")
    (page,) = render_file(path, password="s3cret", dpi=40)
    assert "classified" in page.text
    with pytest.raises(EncryptedDocumentError, match="the password given does not open"):
        render_file(path, password="wrong")
    pages, report = load_folder(tmp_path, password="s3cret", dpi=40).collect()
    assert len(pages) == 1 and report.ok


def test_owner_password_only_needs_no_password(make_pdf: MakePdf) -> None:
    path = make_pdf("restricted.pdf", ["printable"], owner_password="owner")
    (page,) = render_file(path, dpi=40)
    assert "printable" in page.text


def test_password_also_reaches_poppler(make_pdf: MakePdf) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("poppler-utils (pdftoppm) is not installed")
    path = make_pdf("locked.pdf", ["classified text"], owner_password="owner", user_password="s3cret")
    (page,) = render_file(path, password="s3cret", dpi=40, renderer="poppler")
    assert "classified" in page.text and page.width > 0


def test_unsupported_extension_and_folders_passed_as_files(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("plain text")
    (tmp_path / "folder.pdf").mkdir()
    pages, report = load_files([notes, tmp_path / "folder.pdf"]).collect()
    assert pages == []
    kinds = [f.error_kind for f in report.files]
    assert kinds == [UnsupportedFileError.kind, UnsupportedFileError.kind]
    assert "exclude=[...]" in (report.files[0].reason or "")
    assert "a folder, not a file" in (report.files[1].reason or "")


def test_errors_are_picklable_with_their_fields() -> None:
    import pickle

    error = EncryptedDocumentError("/x.pdf", "encrypted", "Pass password='...'")
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.path, clone.reason, clone.fix, str(clone)) == (
        error.path,
        error.reason,
        error.fix,
        str(error),
    )
    assert isinstance(clone, DocumentError) and clone.kind == "encrypted"


# --- permissions: root reads everything, so when we are root the child drops to "nobody" --------------

_PERMISSION_PROBE = """
import json, os, sys
from PIL import Image
from metaembed_rag.documents import load_folder, render_file
# Import every lazily loaded module (PIL plugins, text codecs) while the interpreter's own files
# are still readable: they may live under a private home folder.
Image.init()
list(render_file(os.path.join(sys.argv[1], "readable.pdf"), dpi=30))
if os.geteuid() == 0:
    try:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    except PermissionError as error:  # a container without CAP_SETUID
        print(json.dumps({"skip": f"cannot drop root privileges here: {error}"}))
        sys.exit(0)
pages, report = load_folder(sys.argv[1], dpi=30).collect()
print(json.dumps({"pages": [p.page_id for p in pages],
                  "files": [[f.doc_id, f.status.value, f.error_kind, f.reason] for f in report.files]}))
"""


@pytest.fixture
def world_traversable_dir() -> Iterator[Path]:
    # pytest's tmp_path is private to the current user; the unprivileged child needs to get in.
    path = Path(tempfile.mkdtemp(prefix="metaembed-perm-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for child in path.rglob("*"):
            child.chmod(0o755)
        shutil.rmtree(path)


def test_unreadable_file_and_folder(world_traversable_dir: Path) -> None:
    root = world_traversable_dir
    write_pdf(root / "readable.pdf", ["fine"]).chmod(0o644)
    write_pdf(root / "secret.pdf", ["nobody may read this"]).chmod(0o000)
    (root / "locked").mkdir()
    write_pdf(root / "locked" / "inner.pdf", ["hidden"])
    (root / "locked").chmod(0o000)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", _PERMISSION_PROBE, str(root)], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    if "skip" in outcome:
        pytest.skip(outcome["skip"])
    assert outcome["pages"] == ["readable.pdf:1"], outcome
    files = {doc_id: (status, kind, reason) for doc_id, status, kind, reason in outcome["files"]}
    assert files["secret.pdf"][:2] == ("failed", UnreadableFileError.kind)
    assert "permission denied" in files["secret.pdf"][2] and "chmod a+r" in files["secret.pdf"][2]
    assert files["locked"][:2] == ("failed", UnreadableFileError.kind)
    assert "unreadable folder" in files["locked"][2]
