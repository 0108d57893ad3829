"""Standalone images are one-page documents: upright, RGB, within max_pixels, no text."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from metaembed_rag.documents import CorruptFileError, UnsupportedFileError, load_folder, render_file


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".jpeg", ".webp"])
def test_each_image_format_is_one_page(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scan{suffix}"
    Image.new("RGB", (320, 200), (10, 120, 200)).save(path)
    (page,) = render_file(path, root=tmp_path)
    assert (page.page_number, page.text, page.doc_id) == (1, "", f"scan{suffix}")
    assert page.image.mode == "RGB" and page.image.size == (320, 200) == (page.width, page.height)
    assert page.image.getpixel((5, 5))[2] > 150  # the pixels survived, roughly (lossy formats)


def test_dpi_does_not_apply_but_max_pixels_does(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (4000, 1000), "white").save(path)
    (page,) = render_file(path, dpi=300, max_pixels=400_000)
    assert page.width * page.height <= 400_000
    assert page.width / page.height == pytest.approx(4.0, rel=0.01)
    (same,) = render_file(path, dpi=10, max_pixels=None)
    assert same.image.size == (4000, 1000)


def test_large_jpeg_is_decoded_small(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (3000, 2000), (200, 30, 30)).save(path, quality=80)
    (page,) = render_file(path, max_pixels=100_000)
    assert page.width * page.height <= 100_000
    assert page.width / page.height == pytest.approx(1.5, rel=0.02)


def test_transparency_becomes_white_not_black(tmp_path: Path) -> None:
    path = tmp_path / "logo.png"
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (10, 10, 20, 20))
    image.save(path)
    (page,) = render_file(path)
    assert page.image.getpixel((0, 0)) == (255, 255, 255)
    assert page.image.getpixel((15, 15)) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.new("RGB", (300, 100), "white").save(path, exif=exif)
    (page,) = render_file(path)
    assert page.image.size == (100, 300)


def test_broken_images_are_reported(tmp_path: Path) -> None:
    (tmp_path / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (tmp_path / "actually.jpg").write_bytes(b"%PDF-1.7\n%fake pdf named jpg\n")
    (tmp_path / "ok.png").write_bytes(b"")
    Image.new("RGB", (10, 10)).save(tmp_path / "ok.png")
    stream = load_folder(tmp_path)
    pages, report = stream.collect()
    assert [p.doc_id for p in pages] == ["ok.png"]
    failures = {f.doc_id: f for f in report.failed}
    assert failures["truncated.png"].error_kind == CorruptFileError.kind
    assert "cannot be decoded" in (failures["truncated.png"].reason or "")
    assert failures["actually.jpg"].error_kind == UnsupportedFileError.kind
    assert "Rename it to .pdf" in (failures["actually.jpg"].reason or "")
