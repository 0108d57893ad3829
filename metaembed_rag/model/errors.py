"""Why a model folder could not be loaded, in one line, instead of a traceback from transformers."""

from __future__ import annotations

__all__ = ["ModelLoadError"]


class ModelLoadError(OSError):
    """A model folder (or the backbone it names) cannot be loaded: a damaged or truncated weights
    file, a config of another model family, a missing tokenizer, missing weights. ``str(error)``
    is one line naming the folder and the cause; ``cause`` keeps the underlying exception."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause
