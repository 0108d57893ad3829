"""Render settings: validation and the dpi / max_pixels arithmetic."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metaembed_rag.documents import RenderOptions, fit_scale, fit_size


def test_defaults_and_canonical_renderer_names() -> None:
    options = RenderOptions()
    assert (options.dpi, options.max_pixels, options.renderer) == (144.0, 2048 * 2048, "pdfium")
    assert RenderOptions(renderer="pypdfium2").renderer == "pdfium"
    assert RenderOptions(renderer="pdf2image").renderer == "poppler"
    assert "secret" not in repr(RenderOptions(password="secret"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dpi": 0}, "dpi must be a positive number"),
        ({"dpi": True}, "dpi must be a positive number"),
        ({"max_pixels": 0}, "max_pixels must be a positive int"),
        ({"max_pixels": 1.5}, "max_pixels must be a positive int"),
        ({"renderer": "ghostscript"}, "use 'pdfium' (default) or 'poppler'"),
    ],
)
def test_invalid_options_say_what_is_allowed(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RenderOptions(**kwargs)  # type: ignore[arg-type]


def test_fit_scale_is_dpi_over_72_when_the_page_fits() -> None:
    assert fit_scale(595.28, 841.89, 144, None) == 2.0
    assert fit_scale(595.28, 841.89, 144, 10**9) == 2.0


@given(
    width=st.floats(10, 5000),
    height=st.floats(10, 5000),
    dpi=st.floats(20, 600),
    max_pixels=st.integers(10_000, 20_000_000),
)
def test_fit_scale_respects_max_pixels_with_ceil_rounding(
    width: float, height: float, dpi: float, max_pixels: int
) -> None:
    scale = fit_scale(width, height, dpi, max_pixels)
    assert 0 < scale <= dpi / 72
    assert math.ceil(width * scale) * math.ceil(height * scale) <= max_pixels
    if scale < dpi / 72:  # when it had to shrink, it shrank no more than needed (0.1% steps)
        slightly_larger = scale / 0.999
        exact = math.sqrt(max_pixels / (width * height))
        assert (
            scale == exact
            or math.ceil(width * slightly_larger) * math.ceil(height * slightly_larger) > max_pixels
        )


@given(
    width=st.integers(1, 20_000),
    height=st.integers(1, 20_000),
    max_pixels=st.integers(1, 10_000_000),
)
def test_fit_size_never_exceeds_budget_nor_grows(width: int, height: int, max_pixels: int) -> None:
    new_w, new_h = fit_size(width, height, max_pixels)
    assert 1 <= new_w <= width and 1 <= new_h <= height
    assert new_w * new_h <= max(max_pixels, 1)
    if width * height <= max_pixels:
        assert (new_w, new_h) == (width, height)
    elif min(new_w, new_h) >= 50:  # aspect ratio kept up to rounding
        assert abs(new_w / new_h - width / height) / (width / height) < 0.05
