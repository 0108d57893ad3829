"""Types shared by every vector store: hits, add results, errors and the ``VectorStore`` protocol.

``PageIndex`` (embedded, on disk) is the default store; a Qdrant-backed store implements the same
protocol so that retrievers and evaluation code never care which one they talk to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..budget import BudgetLike

if TYPE_CHECKING:  # torch stays unimported for light readers of an index (``metaembed-rag info``)
    import torch

__all__ = [
    "FINGERPRINT_KEYS",
    "AddResult",
    "Batch",
    "Filter",
    "ImageLike",
    "IndexBeingCreatedError",
    "IndexCorruptError",
    "IndexMismatchError",
    "NonFiniteVectorsError",
    "PageIndexError",
    "SearchHit",
    "StoredPage",
    "VectorStore",
    "VectorsLike",
    "check_fingerprint",
    "fingerprint_of",
]

#: Keys every model fingerprint carries (``MetaEmbed.fingerprint()``).
FINGERPRINT_KEYS = ("name", "family", "num_query_tokens", "num_candidate_tokens", "dim", "checksum")

if TYPE_CHECKING:
    VectorsLike = torch.Tensor | np.ndarray
else:
    VectorsLike = Any  # torch.Tensor | np.ndarray, without importing torch at run time
#: PNG/JPEG/WebP bytes, a path to such a file, or a PIL image (saved as PNG).
ImageLike = bytes | str | Path | Any
#: ``(vectors, metadatas)`` or ``(vectors, metadatas, images)``: one batch of a streaming add.
Batch = (
    tuple[VectorsLike, Sequence[Mapping[str, Any]]]
    | tuple[VectorsLike, Sequence[Mapping[str, Any]], Sequence[ImageLike | None]]
)
#: ``{"field": value | {"op": operand, ...}, ...}``; see :mod:`metaembed_rag.index.filters`.
Filter = Mapping[str, Any]


class PageIndexError(Exception):
    """Base class of the errors an index raises about its own state."""


class IndexMismatchError(PageIndexError, ValueError):
    """The index was built with a different model (fingerprint) than the one it is used with."""


class NonFiniteVectorsError(PageIndexError, ValueError):
    """Vectors given to ``add``/``upsert``/``search`` contain NaN or infinity (they would poison
    every score they touch); nothing was written."""


class IndexCorruptError(PageIndexError, RuntimeError):
    """A file of the index is missing, truncated or fails its checksum."""


class IndexBeingCreatedError(PageIndexError, FileNotFoundError):
    """No index yet: another process is creating it right now, or a creation was killed before it
    finished (then ``PageIndex.create`` cleans up and starts again)."""


@dataclass(frozen=True)
class SearchHit:
    """One search result. ``rank`` is 1-based; ``metadata`` holds the page's stored fields."""

    page_id: str
    score: float
    metadata: dict[str, Any]
    rank: int


@dataclass(frozen=True)
class AddResult:
    """What an ``add``/``upsert`` did: pages newly added, skipped (unchanged) and replaced."""

    added: int = 0
    skipped: int = 0
    replaced: int = 0
    commits: int = 0

    def __add__(self, other: AddResult) -> AddResult:
        return AddResult(
            self.added + other.added,
            self.skipped + other.skipped,
            self.replaced + other.replaced,
            self.commits + other.commits,
        )


@dataclass(frozen=True)
class StoredPage:
    """A page as stored: its metadata, the path of its image (if any) and optionally its vectors."""

    page_id: str
    doc_id: str | None
    source: str | None
    page: int | None
    content_hash: str
    fields: dict[str, Any] = field(default_factory=dict)
    image_path: Path | None = None
    vectors: torch.Tensor | None = None

    def image_bytes(self) -> bytes | None:
        """The stored image file's bytes, or None when the page has no image."""
        return None if self.image_path is None else self.image_path.read_bytes()

    def metadata(self) -> dict[str, Any]:
        """Flat metadata as search hits carry it: built-in fields, user fields, ``image_path``."""
        meta: dict[str, Any] = {
            "doc_id": self.doc_id,
            "source": self.source,
            "page": self.page,
            "content_hash": self.content_hash,
            **self.fields,
        }
        if self.image_path is not None:
            meta["image_path"] = str(self.image_path)
        return meta


@runtime_checkable
class VectorStore(Protocol):
    """What retrievers need from a store of MetaEmbed page vectors."""

    def fingerprint(self) -> dict[str, Any]: ...

    def add(
        self,
        vectors: VectorsLike | Iterable[Batch],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        images: Sequence[ImageLike | None] | None = None,
        *,
        commit_every: int | None = None,
    ) -> AddResult: ...

    def upsert(
        self,
        vectors: VectorsLike | Iterable[Batch],
        metadatas: Sequence[Mapping[str, Any]] | None = None,
        images: Sequence[ImageLike | None] | None = None,
        *,
        commit_every: int | None = None,
    ) -> AddResult: ...

    def delete(
        self,
        *,
        doc_id: str | None = None,
        page_ids: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> int: ...

    def search(
        self,
        queries: VectorsLike,
        budget: BudgetLike | None = None,
        k: int = 10,
        filter: Filter | None = None,
        *,
        rerank_from: int | None = None,
        first_stage: BudgetLike = (1, 1),
    ) -> list[SearchHit] | list[list[SearchHit]]: ...

    def get(self, page_id: str, *, with_vectors: bool = False) -> StoredPage | None: ...

    def __len__(self) -> int: ...


def fingerprint_of(source: Mapping[str, Any] | Any) -> dict[str, Any]:
    """A fingerprint dict from a dict or from anything with a ``fingerprint()`` method (the model)."""
    if hasattr(source, "fingerprint") and callable(source.fingerprint):
        # A model also says where it can be loaded from again (MetaEmbed.index_reference).
        reference = getattr(source, "index_reference", None)
        source = {**(reference() if callable(reference) else {}), **source.fingerprint()}
    if not isinstance(source, Mapping):
        raise TypeError(
            f"a fingerprint is a dict or an object with .fingerprint(); got {type(source).__name__}"
        )
    missing = [k for k in FINGERPRINT_KEYS if k not in source]
    if missing:
        raise ValueError(f"fingerprint lacks {missing}; it needs the keys {list(FINGERPRINT_KEYS)}")
    for key in ("num_query_tokens", "num_candidate_tokens", "dim"):
        value = source[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"fingerprint[{key!r}] must be a positive int, got {value!r}")
    return dict(source)


def check_fingerprint(stored: Mapping[str, Any], given: Mapping[str, Any], where: str) -> None:
    """Raise :class:`IndexMismatchError` naming every key where ``given`` differs from ``stored``."""
    diffs = [
        f"{key}: index has {stored.get(key)!r}, model has {given.get(key)!r}"
        for key in FINGERPRINT_KEYS
        if stored.get(key) != given.get(key)
    ]
    if diffs:
        raise IndexMismatchError(
            f"the index at {where} was built with a different model ({'; '.join(diffs)}). "
            "Open it with the model it was built with, or re-index the pages with this model "
            "into a new index."
        )
