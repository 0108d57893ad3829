"""Validation of what ``add`` receives: vector batches, page metadata and images.

Everything is checked before anything is written, so a bad page fails its whole commit cleanly.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import ImageLike, NonFiniteVectorsError, VectorsLike

__all__ = ["RESERVED_FIELDS", "IngestBatch", "PageRecord", "as_vectors", "iter_batches", "page_record"]

#: Metadata keys with a meaning of their own; every other key is a user field.
RESERVED_FIELDS = ("page_id", "doc_id", "source", "page", "content_hash", "image_path")


@dataclass(frozen=True)
class PageRecord:
    """One page's manifest columns; ``fields`` is the JSON text of the user fields."""

    page_id: str
    doc_id: str | None
    source: str | None
    page: int | None
    content_hash: str
    fields: str

    def columns(self) -> tuple[Any, ...]:
        """Values for the manifest's ``PAGE_COLUMNS`` up to (not including) ``image``."""
        return (self.page_id, self.doc_id, self.source, self.page, self.content_hash, self.fields)


@dataclass
class IngestBatch:
    vectors: torch.Tensor  # fp32 [B, R_c, D] on CPU
    records: list[PageRecord]
    images: list[ImageLike | None]

    def __len__(self) -> int:
        return len(self.records)


def as_vectors(vectors: VectorsLike, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """``vectors`` as a CPU tensor, checked against ``shape`` (``-1`` = any) and for finiteness."""
    if isinstance(vectors, np.ndarray):
        vectors = torch.from_numpy(vectors)
    if not isinstance(vectors, torch.Tensor):
        raise TypeError(f"{what} must be a torch tensor or numpy array, got {type(vectors).__name__}")
    if not vectors.is_floating_point():
        raise TypeError(f"{what} must be floating point, got {vectors.dtype}")
    if vectors.dim() != len(shape) or any(
        want not in (-1, got) for want, got in zip(shape, vectors.shape, strict=True)
    ):
        pretty = ", ".join("B" if s == -1 else str(s) for s in shape)
        raise ValueError(f"{what} must have shape [{pretty}], got {list(vectors.shape)}")
    vectors = vectors.detach().cpu()
    if not bool(torch.isfinite(vectors).all()):
        raise NonFiniteVectorsError(f"{what} contain NaN or infinite values")
    return vectors


def page_record(meta: Mapping[str, Any], vectors: torch.Tensor) -> PageRecord:
    """Validate one page's metadata; ``vectors`` (fp32) give the default content hash."""
    if not isinstance(meta, Mapping):
        raise TypeError(f"page metadata must be a dict, got {type(meta).__name__}")
    page_id = meta.get("page_id")
    if not isinstance(page_id, str) or not page_id:
        raise ValueError(f"every page needs a non-empty string 'page_id'; got {page_id!r} in {dict(meta)!r}")

    def optional(key: str, kinds: tuple[type, ...]) -> Any:
        value = meta.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise TypeError(f"page {page_id!r}: {key!r} must be {kinds[0].__name__} or None, got {value!r}")
        return value

    doc_id = optional("doc_id", (str,))
    source = optional("source", (str, Path))
    page = optional("page", (int,))
    content_hash = optional("content_hash", (str,))
    if content_hash is None:
        # Without a hash from the page's content, the vectors themselves identify an unchanged page.
        content_hash = "vectors-sha256:" + hashlib.sha256(vectors.float().numpy().tobytes()).hexdigest()
    if "image_path" in meta:
        raise ValueError(f"page {page_id!r}: 'image_path' is set by the index; pass the image via images=")
    user = {k: v for k, v in meta.items() if k not in RESERVED_FIELDS}
    try:
        fields = json.dumps(user, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"page {page_id!r}: metadata fields must be JSON-serialisable ({exc})") from None
    return PageRecord(page_id, doc_id, None if source is None else str(source), page, content_hash, fields)


def _batch(
    vectors: VectorsLike,
    metadatas: Sequence[Mapping[str, Any]],
    images: Sequence[ImageLike | None] | None,
    shape: tuple[int, int],
) -> IngestBatch:
    tensor = as_vectors(vectors, (-1, *shape), "page vectors").float()
    if isinstance(metadatas, Mapping) or not isinstance(metadatas, Sequence):
        raise TypeError("metadatas must be a list with one dict per page")
    if len(metadatas) != len(tensor):
        raise ValueError(f"{len(tensor)} pages of vectors but {len(metadatas)} metadata dicts")
    if images is None:
        images = [None] * len(tensor)
    elif isinstance(images, (bytes, str)) or len(images) != len(tensor):
        raise ValueError(f"images must be a list with one entry (or None) per page ({len(tensor)} pages)")
    records = [page_record(m, v) for m, v in zip(metadatas, tensor, strict=True)]
    return IngestBatch(tensor, records, list(images))


def iter_batches(
    vectors: VectorsLike | Iterable[Any],
    metadatas: Sequence[Mapping[str, Any]] | None,
    images: Sequence[ImageLike | None] | None,
    shape: tuple[int, int],
) -> Iterator[IngestBatch]:
    """Validated batches from one ``[B, R_c, D]`` batch or an iterable of ``(vectors, metadatas[,
    images])`` tuples; ``shape`` is ``(R_c, D)``."""
    if isinstance(vectors, (torch.Tensor, np.ndarray)):
        if metadatas is None:
            raise TypeError("add(vectors, metadatas): metadatas (one dict per page) are required")
        yield _batch(vectors, metadatas, images, shape)
        return
    if metadatas is not None or images is not None:
        raise TypeError(
            "when vectors is an iterable of batches, each batch is a (vectors, metadatas[, images]) "
            "tuple; do not pass metadatas= or images= separately"
        )
    for item in vectors:
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise TypeError(
                f"each batch must be a (vectors, metadatas[, images]) tuple, got {type(item).__name__}"
            )
        yield _batch(item[0], item[1], item[2] if len(item) == 3 else None, shape)
