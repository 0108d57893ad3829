"""``MetaEmbedPDFReader``: PDF pages as LlamaIndex ``ImageDocument``s, one per rendered page."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import ImageDocument

from metaembed_rag.documents import DEFAULT_DPI, DEFAULT_MAX_PIXELS, Page, load_folder, render_file

__all__ = ["MetaEmbedPDFReader"]


class MetaEmbedPDFReader(BaseReader):
    """Render PDFs (and page images) with metaembed-rag's renderer (PDFium by default, nothing to
    install system-wide) into one ``ImageDocument`` per page.

    Each document's ``id_`` is the page id (``"report.pdf:3"``), its text the PDF's text layer, its
    image the rendered page as base64 PNG (or, with ``image_dir``, a PNG file there named by
    content hash), and its metadata ``source``, ``page``, ``page_id``, ``doc_id``, ``content_hash``,
    ``width`` and ``height`` (an LLM, an embedding model and a splitter's size count see only
    ``source``, ``page`` and ``extra_info``). Pages are rendered one at a time:
    ``lazy_load_data`` keeps memory bounded on large files.
    """

    def __init__(self, *, dpi: float = DEFAULT_DPI, max_pixels: int | None = DEFAULT_MAX_PIXELS,
                 renderer: str = "pdfium", password: str | None = None,
                 image_dir: str | Path | None = None) -> None:
        self.dpi = dpi
        self.max_pixels = max_pixels
        self.renderer = renderer
        self.password = password
        self.image_dir = None if image_dir is None else Path(image_dir)

    def lazy_load_data(self, file: str | Path, extra_info: dict[str, Any] | None = None,
                       ) -> Iterator[ImageDocument]:
        """Yield the pages of ``file`` (a PDF or image), or of every document under it if it is a
        folder (``doc_id`` relative to that folder). ``extra_info`` is added to every page's
        metadata. An unreadable file raises a ``metaembed_rag.documents.DocumentError`` naming the
        cause and the fix."""
        path = Path(file)
        options: dict[str, Any] = {"dpi": self.dpi, "max_pixels": self.max_pixels,
                                   "renderer": self.renderer, "password": self.password}
        if path.is_dir():
            pages: Any = load_folder(path, **options)
        else:
            pages = render_file(path, root=path.parent, **options)
        for page in pages:
            yield self._document(page, extra_info or {})

    def load_data(self, file: str | Path, extra_info: dict[str, Any] | None = None) -> list[ImageDocument]:
        """All pages of ``file`` (see :meth:`lazy_load_data`)."""
        return list(self.lazy_load_data(file, extra_info))

    def _document(self, page: Page, extra_info: dict[str, Any]) -> ImageDocument:
        buffer = io.BytesIO()
        page.image.save(buffer, format="PNG")
        png = buffer.getvalue()
        metadata = dict(extra_info) | {
            "source": page.source,
            "page": page.page_number,
            "page_id": page.page_id,
            "doc_id": page.doc_id,
            "content_hash": page.content_hash,
            "width": page.width,
            "height": page.height,
        }
        image: dict[str, Any]
        if self.image_dir is None:
            image = {"image": base64.b64encode(png).decode("ascii")}
        else:
            import hashlib

            self.image_dir.mkdir(parents=True, exist_ok=True)
            target = self.image_dir / f"{hashlib.sha256(png).hexdigest()}.png"
            if not target.exists():
                target.write_bytes(png)
            image = {"image_path": str(target)}
            metadata["image_path"] = str(target)
        hidden = [k for k in metadata if k not in ("source", "page", *extra_info)]
        return ImageDocument(id_=page.page_id, text=page.text, image_mimetype="image/png", metadata=metadata,
                             excluded_llm_metadata_keys=hidden, excluded_embed_metadata_keys=hidden, **image)
