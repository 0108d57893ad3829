"""Standalone images (png, jpg, jpeg, webp) as one-page documents."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import CorruptFileError, DocumentError, UnsupportedFileError, sniff_format
from .options import fit_size

__all__ = ["IMAGE_SUFFIXES", "check_image", "load_image"]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})


def check_image(path: str | Path, head: bytes) -> None:
    """Raise a :class:`DocumentError` unless ``path`` decodes as an image. Reads headers, not pixels."""
    try:
        with Image.open(path) as image:
            image.verify()  # checks structure (PNG chunk CRCs, ...) without decoding all pixels
    except Image.DecompressionBombError as error:
        raise _bomb(path, error) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _undecodable(path, head, error) from error


def load_image(path: str | Path, max_pixels: int | None) -> Image.Image:
    """Decode ``path`` to an upright RGB image of at most ``max_pixels`` pixels."""
    try:
        with Image.open(path) as image:
            if max_pixels is not None and image.format == "JPEG":
                # Let libjpeg decode at a reduced scale: much faster for large photos and scans.
                image.draft("RGB", fit_size(*image.size, max_pixels))
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = _to_rgb(upright)
    except Image.DecompressionBombError as error:
        raise _bomb(path, error) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise _undecodable(path, b"", error) from error
    size = fit_size(*rgb.size, max_pixels)
    if size != rgb.size:
        rgb = rgb.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB with transparent areas made white (as on paper) rather than black."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _bomb(path: str | Path, error: Exception) -> DocumentError:
    return UnsupportedFileError(
        path,
        f"the image is too large to decode safely ({error})",
        "If you trust it, raise PIL.Image.MAX_IMAGE_PIXELS, or shrink the image first",
    )


def _undecodable(path: str | Path, head: bytes, error: Exception) -> DocumentError:
    if b"%PDF-" in head[:1024]:
        return UnsupportedFileError(
            path, "has an image extension but is a PDF", "Rename it to .pdf so it is rendered as a PDF"
        )
    what = sniff_format(head) if head else None
    if what is not None:
        return CorruptFileError(path, f"cannot be decoded as an image: its content is {what}")
    return CorruptFileError(
        path, f"corrupt: the image cannot be decoded ({error})", "Export or download it again"
    )
