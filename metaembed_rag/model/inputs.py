"""What an encoder reads: text, an image, or both, validated once at the API boundary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from PIL import Image

__all__ = ["EncoderInput", "InputLike", "to_input", "to_inputs"]


@dataclass(frozen=True)
class EncoderInput:
    """One item to encode. At least one of ``text`` and ``image`` is set."""

    text: str | None = None
    image: Image.Image | None = None

    @property
    def kind(self) -> str:
        if self.image is not None and self.text is not None:
            return "image+text"
        return "image" if self.image is not None else "text"


class PageLike(Protocol):
    """Anything with a text layer and a page image, such as a rendered ``Page``."""

    text: str | None
    image: Image.Image | None


InputLike = str | Image.Image | EncoderInput | tuple[Image.Image, str] | dict[str, Any] | PageLike


def _check_text(text: object, where: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{where}: text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"{where}: text is empty; pass a non-empty string")
    return text


def _check_image(image: object, where: str) -> Image.Image:
    if not isinstance(image, Image.Image):
        raise TypeError(
            f"{where}: expected a PIL.Image.Image as image, got {type(image).__name__}; "
            "open files with PIL.Image.open(path) first"
        )
    width, height = image.size
    if width == 0 or height == 0:
        raise ValueError(f"{where}: image has zero size ({width}x{height})")
    return image


def to_input(item: InputLike, where: str = "input") -> EncoderInput:
    """Normalise one user item: str, PIL image, (image, text) pair, dict, or an object with
    ``image``/``text`` attributes (such as a rendered ``Page``)."""
    if item is None:
        raise TypeError(f"{where}: got None; pass a string, a PIL image or an (image, text) pair")
    if isinstance(item, EncoderInput):
        text, image = item.text, item.image
    elif isinstance(item, str):
        text, image = item, None
    elif isinstance(item, Image.Image):
        text, image = None, item
    elif isinstance(item, tuple) and len(item) == 2:
        image, text = item
    elif isinstance(item, dict):
        text, image = item.get("text"), item.get("image")
    elif hasattr(item, "image") or hasattr(item, "text"):
        text, image = getattr(item, "text", None), getattr(item, "image", None)
    else:
        raise TypeError(
            f"{where}: cannot encode a {type(item).__name__}; pass a string, a PIL image, "
            "an (image, text) pair or an object with .image/.text"
        )
    if text is None and image is None:
        raise ValueError(f"{where}: has neither text nor image")
    return EncoderInput(
        text=None if text is None else _check_text(text, where),
        image=None if image is None else _check_image(image, where),
    )


def _plural(noun: str) -> str:
    """``query`` -> ``queries``, ``document`` -> ``documents``."""
    return noun[:-1] + "ies" if noun.endswith("y") and noun[-2:-1] not in "aeiou" else noun + "s"


def to_inputs(items: InputLike | Sequence[InputLike], what: str = "input") -> list[EncoderInput]:
    """Normalise a single item or a sequence of items; names the offending position on error."""
    if isinstance(items, (str, Image.Image, EncoderInput, dict)) or (
        isinstance(items, tuple) and len(items) == 2 and isinstance(items[0], Image.Image)
    ):
        items = [items]
    if items is None:
        raise TypeError(f"{_plural(what)}: got None; pass a list of strings or images")
    items = list(items)
    if not items:
        raise ValueError(f"{_plural(what)}: the list is empty")
    return [to_input(item, f"{what} #{i}") for i, item in enumerate(items)]
