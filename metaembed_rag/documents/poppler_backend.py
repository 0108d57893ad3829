"""The optional renderer: poppler's pdftoppm through pdf2image (``pip install 'metaembed-rag[poppler]'``).

It exists for comparison and for users whose documents render better in poppler. Page sizes
come from PDFium (always installed) so that both renderers apply ``dpi`` and ``max_pixels`` the
same way; pages of a range that share a scale are rendered by one pdftoppm call. The text layer
comes from pdftotext when it is installed, else from PDFium.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from PIL import Image

from .errors import RendererUnavailableError, RenderFailedError
from .options import RenderOptions, fit_scale
from .pdfium_backend import DocumentCache, page_size, page_text

__all__ = ["check_poppler", "render_range"]

_INSTALL_HINT = (
    "Install poppler: `apt-get install poppler-utils` (Debian/Ubuntu), `brew install poppler` (macOS) "
    "or `conda install -c conda-forge poppler`; or pass poppler_path='/folder/with/pdftoppm'. "
    "The default renderer='pdfium' needs no system library."
)


def _tool(name: str, poppler_path: str | None) -> str | None:
    if poppler_path is not None:
        return shutil.which(name, path=str(poppler_path))
    return shutil.which(name)


def check_poppler(poppler_path: str | None = None) -> None:
    """Raise :class:`RendererUnavailableError`, saying how to fix it, unless poppler can run."""
    try:
        import pdf2image  # noqa: F401
    except ImportError:
        raise RendererUnavailableError(
            "renderer='poppler' needs the pdf2image package: pip install 'metaembed-rag[poppler]'"
        ) from None
    if _tool("pdftoppm", poppler_path) is None:
        where = f"in {poppler_path}" if poppler_path else "on PATH"
        raise RendererUnavailableError(
            f"renderer='poppler' needs poppler's pdftoppm program, which was not found {where}. "
            + _INSTALL_HINT
        )


def render_range(
    path: str, first: int, last: int, options: RenderOptions, cache: DocumentCache
) -> list[tuple[Image.Image, str]]:
    """Render 1-based pages ``first..last`` (inclusive) with pdftoppm; return (image, text) pairs."""
    from pdf2image import convert_from_path

    doc = cache.get(path, options.password)
    scales = [
        fit_scale(*page_size(doc, number - 1), options.dpi, options.max_pixels)
        for number in range(first, last + 1)
    ]
    extras: dict[str, Any] = {}  # pdf2image's defaults, unless set: None is not accepted by its types
    if options.password is not None:
        extras["userpw"] = options.password
    if options.poppler_path is not None:
        extras["poppler_path"] = options.poppler_path
    images: list[Image.Image] = []
    start = first
    while start <= last:
        # One pdftoppm call per run of consecutive pages that share a scale.
        end = start
        while end < last and scales[end + 1 - first] == scales[start - first]:
            end += 1
        try:
            batch = convert_from_path(
                path,
                # Annotated int, but passed to pdftoppm's -r as text, which takes a real number: a
                # fractional dpi is what makes max_pixels give the same size as PDFium.
                dpi=scales[start - first] * 72.0,  # type: ignore[arg-type]
                first_page=start,
                last_page=end,
                **extras,
            )
        except Exception as error:  # pdf2image raises several unrelated types
            raise RenderFailedError(
                path, f"pdftoppm failed on pages {start}-{end} ({error})", "Try renderer='pdfium'"
            ) from error
        if len(batch) != end - start + 1:
            raise RenderFailedError(path, f"pdftoppm returned {len(batch)} images for pages {start}-{end}")
        images.extend(image.convert("RGB") for image in batch)
        start = end + 1
    texts = _pdftotext(path, first, last, options)
    if texts is None:
        texts = [page_text(doc, number - 1) for number in range(first, last + 1)]
    return list(zip(images, texts, strict=True))


def _pdftotext(path: str, first: int, last: int, options: RenderOptions) -> list[str] | None:
    """Text of pages ``first..last`` from pdftotext, or None when it is not installed or fails."""
    exe = _tool("pdftotext", options.poppler_path)
    if exe is None:
        return None
    command = [exe, "-f", str(first), "-l", str(last), "-enc", "UTF-8"]
    if options.password is not None:
        command += ["-upw", options.password]
    command += [os.fspath(Path(path)), "-"]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        return None
    # pdftotext ends every page with a form feed.
    pages = result.stdout.decode("utf-8", errors="replace").split("\f")[: last - first + 1]
    if len(pages) != last - first + 1:
        return None
    return [page.strip("\n") for page in pages]
