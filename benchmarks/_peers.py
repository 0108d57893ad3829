"""The peers bench_index.py times against: colpali-engine, qdrant-client local mode, qdrant-edge-py.

Each peer is wrapped as ``search(queries [Q, R_q, D], budget, k) -> list of top-k id lists``, so
the benchmark times the same job for all: exact top-k by MaxSim at a budget. Budgets are prefix
slices for every peer; Qdrant has no prefix slicing, so (like :class:`QdrantStore`) one named
vector per ladder ``r_c`` is stored, and ``r_c = 1`` is a dense vector scored with ``Σ_i q_i``.
A peer that cannot be imported is reported as missing with the reason, never faked.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from metaembed_rag.budget import Budget

__all__ = ["Peer", "colpali_peer", "qdrant_edge_peer", "qdrant_local_peer"]

Search = Callable[[torch.Tensor, Budget, int], list[list[int]]]


class Peer:
    """A peer's name, what exactly runs, and its search function (or why it is missing)."""

    def __init__(self, name: str, note: str, search: Search | None = None, missing: str = "") -> None:
        self.name, self.note, self.search, self.missing = name, note, search, missing
        self.store: Any = None  # the QdrantStore, for its stats
        self.batched = False  # scores a batch of queries in one call (no per-query loop)


def _ladder_levels(r_c_max: int) -> list[int]:
    return sorted({1, 4, 8, 16, r_c_max})


def colpali_peer(pages: torch.Tensor) -> Peer:
    """colpali-engine's ``BaseVisualRetrieverProcessor.score_multi_vector`` (its CPU path is an
    einsum over batches of 128 pages), then ``torch.topk``. ``colpali_engine/__init__`` imports
    every model, which imports torchvision (broken with torch 2.13 CPU), so only the package's
    ``utils`` modules are loaded: the scoring code runs unmodified. It is given fp32 pages (its
    bf16 einsum is slower on this CPU)."""
    name = "colpali-engine"
    if "colpali_engine" not in sys.modules:
        spec = importlib.util.find_spec("colpali_engine")
        if spec is None or spec.submodule_search_locations is None:
            return Peer(name, "", missing="not installed (pip install 'metaembed-rag[bench]')")
        package = types.ModuleType("colpali_engine")  # the package without its __init__
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        sys.modules["colpali_engine"] = package
    try:
        from colpali_engine.utils.processing_utils import BaseVisualRetrieverProcessor
    except Exception as exc:  # any import failure is reported, not hidden
        return Peer(name, "", missing=f"import failed: {exc!r}")
    version = _version("colpali-engine")
    full = pages.float()

    def search(queries: torch.Tensor, budget: Budget, k: int) -> list[list[int]]:
        scores = BaseVisualRetrieverProcessor.score_multi_vector(
            list(queries[:, : budget.r_q]), full[:, : budget.r_c], device="cpu"
        )
        return scores.topk(min(k, scores.shape[1]), dim=1).indices.tolist()

    peer = Peer(name, f"{version} score_multi_vector, fp32 einsum", search)
    peer.batched = True
    return peer


def qdrant_local_peer(pages: torch.Tensor, fingerprint: dict[str, Any], batch: int = 256) -> Peer:
    """qdrant-client's local mode (in memory) through this package's :class:`QdrantStore`."""
    name = "qdrant local"
    try:
        from qdrant_client import QdrantClient

        from metaembed_rag.index.qdrant_store import QdrantStore
    except ImportError as exc:
        return Peer(name, "", missing=f"not installed ({exc})")
    store = QdrantStore.create(QdrantClient(":memory:"), "bench", fingerprint=fingerprint)
    for start in range(0, len(pages), batch):
        chunk = pages[start : start + batch].float()
        store.add(chunk, [{"page_id": str(start + i)} for i in range(len(chunk))])

    def search(queries: torch.Tensor, budget: Budget, k: int) -> list[list[int]]:
        hits = store.search(queries, budget, k)
        return [[int(h.page_id) for h in per_query] for per_query in hits]  # type: ignore[union-attr]

    peer = Peer(name, f"qdrant-client {_version('qdrant-client')} :memory:, fp32, exact", search)
    peer.store = store
    return peer


def qdrant_edge_peer(pages: torch.Tensor, threads: int, path: Path, batch: int = 256) -> Peer:
    """qdrant-edge-py: Qdrant's Rust engine in process, one shard, float16 vectors (2 bytes each,
    like our bf16), exact search with ``threads`` search threads."""
    name = "qdrant-edge"
    try:
        import qdrant_edge as qe
    except ImportError as exc:
        return Peer(name, "", missing=f"not installed ({exc}; pip install 'metaembed-rag[bench]')")
    dim, r_c_max = pages.shape[-1], pages.shape[1]
    levels = [r for r in _ladder_levels(r_c_max) if r <= r_c_max]

    def params(r: int) -> Any:
        multi = None if r == 1 else qe.MultiVectorConfig(qe.MultiVectorComparator.MaxSim)
        return qe.EdgeVectorParams(
            size=dim, distance=qe.Distance.Dot, multivector_config=multi,
            datatype=qe.VectorStorageDatatype.Float16,
        )  # fmt: skip

    config = qe.EdgeConfig(vectors={f"c{r}": params(r) for r in levels}, max_search_threads=threads)
    shard = qe.EdgeShard.create(str(path), config)
    for start in range(0, len(pages), batch):
        chunk = pages[start : start + batch].float()
        points = [
            qe.Point(start + i, {f"c{r}": (v[0] if r == 1 else v[:r]).tolist() for r in levels})
            for i, v in enumerate(chunk)
        ]
        shard.update(qe.UpdateOperation.upsert_points(points))
    shard.flush()
    exact = qe.SearchParams(exact=True)

    def request(q: torch.Tensor, budget: Budget, k: int) -> Any:
        if budget.r_c == 1:
            vector, using = q[: budget.r_q].double().sum(0).tolist(), "c1"
        else:
            vector, using = q[: budget.r_q].tolist(), f"c{budget.r_c}"
        return qe.QueryRequest(limit=k, query=qe.Query.Nearest(vector, using=using), params=exact)

    def search(queries: torch.Tensor, budget: Budget, k: int) -> list[list[int]]:
        found = shard.query_batch(qe.QueryBatchRequest([request(q, budget, k) for q in queries]))
        return [[int(p.id) for p in points] for points in found]

    return Peer(name, f"qdrant-edge-py {_version('qdrant-edge-py')}, float16, exact", search)


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "?"
