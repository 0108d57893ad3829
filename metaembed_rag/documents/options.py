"""Render settings and the arithmetic that turns a page size into a pixel size.

Defaults: 144 dpi makes a Letter/A4 page about 1224x1584 px (2 Mpx), enough for small print to
stay legible to a vision-language model and to a person looking at a hit. ``max_pixels`` =
2048x2048 leaves such pages untouched and only shrinks outsized pages (posters, A0 drawings,
giant scans), which would otherwise cost tens of MB each. The encoder's own processor applies the
model's visual-token cap afterwards (MetaEmbed: 1024 tokens, about 0.8 Mpx), so rendering larger
than this buys nothing for retrieval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_DPI",
    "DEFAULT_MAX_PIXELS",
    "RENDERERS",
    "RenderOptions",
    "fit_scale",
    "fit_size",
]

DEFAULT_DPI = 144.0
DEFAULT_MAX_PIXELS = 2048 * 2048
#: Accepted renderer names and the backend each selects.
RENDERERS = {"pdfium": "pdfium", "pypdfium2": "pdfium", "poppler": "poppler", "pdf2image": "poppler"}

_POINTS_PER_INCH = 72.0


@dataclass(frozen=True)
class RenderOptions:
    """How to rasterise documents. Picklable, so it travels to worker processes unchanged.

    ``renderer`` is ``"pdfium"`` (default, pypdfium2, no system library) or ``"poppler"``
    (pdf2image + poppler's pdftoppm). ``password`` opens encrypted PDFs; it is kept out of repr.
    ``poppler_path`` is the folder holding pdftoppm when it is not on PATH.

    Limits for untrusted folders (both off by default): ``max_pages`` reports a longer document as
    failed (:class:`~.errors.TooManyPagesError`) instead of rendering it; ``page_timeout`` gives
    each page that many seconds of rendering, then stops the renderer process and reports the file
    (:class:`~.errors.RenderTimeoutError`). A time limit needs a renderer process to stop, so with
    ``page_timeout`` set, rendering runs in worker processes even when ``workers=1``.
    """

    dpi: float = DEFAULT_DPI
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    renderer: str = "pdfium"
    password: str | None = field(default=None, repr=False)
    poppler_path: str | None = None
    max_pages: int | None = None
    page_timeout: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.dpi, bool) or not isinstance(self.dpi, (int, float)) or not self.dpi > 0:
            raise ValueError(f"dpi must be a positive number, got {self.dpi!r}")
        if self.max_pixels is not None and (
            isinstance(self.max_pixels, bool) or not isinstance(self.max_pixels, int) or self.max_pixels < 1
        ):
            raise ValueError(f"max_pixels must be a positive int or None, got {self.max_pixels!r}")
        if self.max_pages is not None and (
            isinstance(self.max_pages, bool) or not isinstance(self.max_pages, int) or self.max_pages < 1
        ):
            raise ValueError(f"max_pages must be a positive int or None, got {self.max_pages!r}")
        if self.page_timeout is not None and (
            isinstance(self.page_timeout, bool)
            or not isinstance(self.page_timeout, (int, float))
            or not 0 < self.page_timeout < math.inf
        ):
            raise ValueError(
                f"page_timeout must be a positive number of seconds or None, got {self.page_timeout!r}"
            )
        backend = RENDERERS.get(str(self.renderer).lower())
        if backend is None:
            raise ValueError(f"unknown renderer {self.renderer!r}: use 'pdfium' (default) or 'poppler'")
        object.__setattr__(self, "renderer", backend)  # store the canonical name


def fit_scale(width_pt: float, height_pt: float, dpi: float, max_pixels: int | None) -> float:
    """Pixels per PDF point for a ``width_pt`` x ``height_pt`` page at ``dpi``, lowered if needed
    so that the rendered size ``ceil(w*s) x ceil(h*s)`` (how PDFium and pdftoppm round) has at
    most ``max_pixels`` pixels. The aspect ratio is kept."""
    scale = dpi / _POINTS_PER_INCH
    if max_pixels is None or _ceil_area(width_pt, height_pt, scale) <= max_pixels:
        return scale
    scale = math.sqrt(max_pixels / (width_pt * height_pt))
    # Rounding up can overshoot by a row or column: step down until it fits.
    while scale > 0 and _ceil_area(width_pt, height_pt, scale) > max_pixels:
        scale *= 0.999
    return scale


def fit_size(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """The largest size with the aspect ratio of ``width`` x ``height`` and at most ``max_pixels``
    pixels (never larger than the input, never below 1x1)."""
    if max_pixels is None or width * height <= max_pixels:
        return width, height
    ratio = math.sqrt(max_pixels / (width * height))
    new_w, new_h = max(1, int(width * ratio)), max(1, int(height * ratio))
    # Flooring keeps the area within budget except where a side was raised to 1 pixel.
    new_h = max(1, min(new_h, max_pixels // new_w))
    new_w = max(1, min(new_w, max_pixels // new_h))
    return new_w, new_h


def _ceil_area(width_pt: float, height_pt: float, scale: float) -> int:
    return math.ceil(width_pt * scale) * math.ceil(height_pt * scale)
