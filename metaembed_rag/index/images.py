"""Page images stored next to the vectors: content-addressed PNG/JPEG/WebP files under ``images/``.

Files are named by the SHA-256 of their bytes, so storing the same image twice writes it once and a
file is never rewritten in place. A file no page references any more is removed by the writer that
dropped the last reference, by ``compact()``, or when a crashed write left it behind.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from .segments import write_atomic

__all__ = ["image_bytes", "store_image"]

_MAGIC = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"))


def _extension(data: bytes) -> str | None:
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


def image_bytes(image: Any) -> tuple[bytes, str]:
    """``(bytes, extension)`` of a PNG/JPEG/WebP given as bytes, a file path or a PIL image."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, (str, Path)):
        data = Path(image).read_bytes()
    elif hasattr(image, "save") and hasattr(image, "mode"):  # a PIL image; PIL is imported by the caller
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
    else:
        raise TypeError(
            f"an image is PNG/JPEG/WebP bytes, a file path or a PIL image; got {type(image).__name__}"
        )
    ext = _extension(data)
    if ext is None:
        raise ValueError(f"image is not PNG, JPEG or WebP (starts with {data[:12]!r})")
    return data, ext


def store_image(directory: Path, image: Any) -> str:
    """Write ``image`` under ``directory`` (once per distinct content) and return its file name."""
    data, ext = image_bytes(image)
    name = hashlib.sha256(data).hexdigest() + ext
    if not (directory / name).exists():
        write_atomic(directory, name, data)
    return name
