"""How :class:`~metaembed_rag.index.qdrant_store.QdrantStore` lays pages out as Qdrant points.

One point per page, id ``uuid5(page_id)``. Named vectors, one per stored candidate level ``r``:
``"c1"`` is a plain dense vector (the page's first candidate vector); ``"c<r>"`` for ``r > 1`` is a
multivector of the first ``r`` candidate vectors with the ``MAX_SIM`` comparator and ``DOT``
distance, so Qdrant scores it as ``Σ_i max_j ⟨q_i, c_j⟩``. The payload holds the built-in fields
at the top level, user fields under ``fields`` and ``source_prefixes`` for prefix filters.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from qdrant_client import models

from .base import StoredPage
from .qdrant_filters import PREFIXES_KEY, source_prefixes
from .records import PageRecord

__all__ = ["PAYLOAD_INDEXES", "level_name", "point_id", "stored_page", "to_point", "vectors_config"]

_NAMESPACE = uuid.UUID("6f1d3a52-7c7e-4b8e-9a55-2b0f6d1f6c10")

#: Payload fields given a Qdrant payload index, so filters on them need no full scan.
PAYLOAD_INDEXES = (
    ("page_id", models.PayloadSchemaType.KEYWORD),
    ("doc_id", models.PayloadSchemaType.KEYWORD),
    ("source", models.PayloadSchemaType.KEYWORD),
    (PREFIXES_KEY, models.PayloadSchemaType.KEYWORD),
    ("page", models.PayloadSchemaType.INTEGER),
)


def point_id(page_id: str) -> str:
    """The Qdrant point id of a page: a UUID5 of its ``page_id``, the same on every machine."""
    return str(uuid.uuid5(_NAMESPACE, page_id))


def level_name(r_c: int) -> str:
    """The named vector holding the first ``r_c`` candidate vectors."""
    return f"c{r_c}"


def vectors_config(dim: int, levels: Sequence[int], on_disk: bool) -> dict[str, models.VectorParams]:
    """Named-vector parameters for ``levels``. Multivectors get no HNSW graph (``m=0``): they are
    scored exactly, after a filter or a prefetch, as Qdrant advises for late-interaction vectors."""
    return {
        level_name(r): models.VectorParams(size=dim, distance=models.Distance.DOT, on_disk=on_disk)
        if r == 1
        else models.VectorParams(
            size=dim,
            distance=models.Distance.DOT,
            multivector_config=models.MultiVectorConfig(comparator=models.MultiVectorComparator.MAX_SIM),
            hnsw_config=models.HnswConfigDiff(m=0),
            on_disk=on_disk,
        )
        for r in levels
    }


def to_point(record: PageRecord, vectors: torch.Tensor, levels: Sequence[int]) -> models.PointStruct:
    """The point for one page: ``vectors`` is its ``[R_c, D]`` fp32 tensor."""
    payload = {
        "page_id": record.page_id,
        "doc_id": record.doc_id,
        "source": record.source,
        "page": record.page,
        "content_hash": record.content_hash,
        "fields": json.loads(record.fields),
        PREFIXES_KEY: source_prefixes(record.source),
    }
    named: dict[str, Any] = {
        level_name(r): vectors[0].tolist() if r == 1 else vectors[:r].tolist() for r in levels
    }
    return models.PointStruct(id=point_id(record.page_id), vector=named, payload=payload)


def stored_page(payload: Mapping[str, Any]) -> StoredPage:
    """The :class:`StoredPage` (no vectors, no image) of a point's payload."""
    return StoredPage(
        payload["page_id"],
        payload.get("doc_id"),
        payload.get("source"),
        payload.get("page"),
        payload["content_hash"],
        dict(payload.get("fields") or {}),
    )
