"""Scoring stored pages: exhaustive top-k over memory-mapped segments, and two-stage search.

Candidates are read chunk by chunk (only the first ``r_c`` vectors of each page, which is all a
budget needs), decoded by the index's codec and scored with :func:`metaembed_rag.scoring.maxsim`.
A running top-k is merged per chunk, so memory stays bounded by the chunk size, not the index size.

Ties are broken by storage position (earlier first) everywhere (:func:`rank_keys`), so results do
not depend on chunking, and exhaustive and two-stage search order equal scores the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from ..budget import Budget, BudgetLike
from ..scoring import maxsim
from .base import Filter, VectorsLike, VectorStore
from .quantize import Codec
from .segments import SegmentReader

__all__ = ["CHUNK_BYTES", "Candidates", "Scorer", "rank_keys", "two_stage_recall"]

#: Decoded candidate bytes per scoring chunk (fp32-equivalent) when no chunk size is given.
CHUNK_BYTES = 64 << 20
# Scores held before a top-k merge: one merge per many chunks (each costs ~0.2 ms), bounded memory.
_MERGE_SCORES = 1 << 20
# Average run of consecutive rows below which a part is read by gathering copies, not views.
_MIN_RUN = 64


@dataclass
class Candidates:
    """The pages a search scores, in storage order: manifest ids and per-segment row numbers."""

    ids: np.ndarray
    parts: list[tuple[SegmentReader, np.ndarray]]

    def __len__(self) -> int:
        return len(self.ids)

    def _starts(self) -> np.ndarray:
        return np.cumsum([0] + [len(rows) for _, rows in self.parts])

    def chunks(
        self, r: int | None, size: int, *, copy: bool = True
    ) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        """``(start position, stored arrays)`` for consecutive runs of at most ``size`` pages.
        ``copy=False`` yields read-only views of the mapped segments wherever the pages are a run
        of consecutive rows (no deletes in between), so a search reads the file in place."""
        if not copy:
            yield from self._views(r, size)
            return
        pending: list[dict[str, np.ndarray]] = []
        pending_rows = 0
        start = 0
        for reader, rows in self.parts:
            for lo in range(0, len(rows), size):
                piece = rows[lo : lo + size]
                if pending_rows + len(piece) > size:
                    yield start, _concat(pending)
                    start += pending_rows
                    pending, pending_rows = [], 0
                pending.append(reader.gather(piece, r))
                pending_rows += len(piece)
        if pending:
            yield start, _concat(pending)

    def _views(self, r: int | None, size: int) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
        start = 0
        for reader, rows in self.parts:
            breaks = np.flatnonzero(np.diff(rows) != 1) + 1
            if len(rows) > _MIN_RUN * (len(breaks) + 1):  # mostly long runs of consecutive rows
                pieces = [
                    run[lo : lo + size] for run in np.split(rows, breaks) for lo in range(0, len(run), size)
                ]
                for piece in pieces:
                    yield start, reader.view(int(piece[0]), int(piece[-1]) + 1, r)
                    start += len(piece)
            else:  # scattered rows (many deletes, a selective filter): gathered copies
                for lo in range(0, len(rows), size):
                    yield start, reader.gather(rows[lo : lo + size], r)
                    start += len(rows[lo : lo + size])

    def gather(self, positions: np.ndarray, r: int | None) -> dict[str, np.ndarray]:
        """Stored arrays of the pages at sorted ``positions`` (indices into this candidate list)."""
        starts = self._starts()
        part_of = np.searchsorted(starts, positions, side="right") - 1
        pieces = []
        for p in np.unique(part_of):
            reader, rows = self.parts[p]
            pieces.append(reader.gather(rows[positions[part_of == p] - starts[p]], r))
        return _concat(pieces)


def _concat(pieces: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if len(pieces) == 1:
        return pieces[0]
    return {name: np.concatenate([p[name] for p in pieces]) for name in pieces[0]}


class Scorer:
    """Scores queries against candidates stored with one codec."""

    def __init__(self, codec: Codec, dim: int, compute_dtype: torch.dtype | None = None) -> None:
        self.codec = codec
        self.dim = dim
        self.compute_dtype = compute_dtype

    def score(self, queries: torch.Tensor, stored: dict[str, np.ndarray]) -> torch.Tensor:
        """fp32 scores ``[Q, n]`` of ``queries [Q, r_q, D]`` against decoded stored rows."""
        scores = maxsim(queries, self.codec.decode(stored, self.dim), compute_dtype=self.compute_dtype)
        scale = self.codec.score_scale(self.dim)
        return scores if scale == 1.0 else scores * scale

    def topk(
        self, queries: torch.Tensor, cands: Candidates, r_c: int, k: int, chunk_size: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exhaustive ``(scores, positions)``, each ``[Q, min(k, N)]``, best first."""
        num_q = queries.shape[0]
        size = chunk_size or max(1, CHUNK_BYTES // (r_c * self.dim * 4))
        keys = torch.empty(num_q, 0, dtype=torch.long)
        best_s, best_p = torch.empty(num_q, 0), torch.empty(num_q, 0, dtype=torch.long)
        pending: list[torch.Tensor] = []  # scores of consecutive chunks not merged yet
        first = 0

        def merge() -> None:
            nonlocal keys, best_s, best_p, pending
            scores = torch.cat(pending, dim=1) if len(pending) > 1 else pending[0]
            positions = torch.arange(first, first + scores.shape[1]).expand(num_q, -1)
            keys = torch.cat([keys, rank_keys(scores, positions)], dim=1)
            all_s, all_p = torch.cat([best_s, scores], dim=1), torch.cat([best_p, positions], dim=1)
            top = torch.topk(keys, min(k, keys.shape[1]), dim=1).indices  # sorted, best first
            keys, best_s, best_p = keys.gather(1, top), all_s.gather(1, top), all_p.gather(1, top)
            pending = []

        for start, stored in cands.chunks(r_c, size, copy=False):
            if not pending:
                first = start
            pending.append(self.score(queries, stored))
            if sum(p.shape[1] for p in pending) * num_q >= _MERGE_SCORES:
                merge()
        if pending:
            merge()
        return best_s, best_p

    def two_stage(
        self,
        queries: torch.Tensor,
        cands: Candidates,
        budget: Budget,
        first: Budget,
        k: int,
        rerank_from: int,
        chunk_size: int | None = None,
    ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Top ``rerank_from`` by the ``first`` budget, then exact MaxSim at ``budget`` on those.
        Returns per-query ``(scores, positions)`` lists."""
        _, first_pos = self.topk(queries[:, : first.r_q], cands, first.r_c, rerank_from, chunk_size)
        out_s, out_p = [], []
        for qi in range(queries.shape[0]):
            # Sorted positions: sequential reads, and the stable sort keeps ties in storage order.
            positions = np.sort(first_pos[qi].numpy())
            stored = cands.gather(positions, budget.r_c)
            scores = self.score(queries[qi : qi + 1, : budget.r_q], stored)[0]
            pos = torch.from_numpy(positions)
            order = torch.topk(rank_keys(scores, pos), min(k, len(pos))).indices
            out_s.append(scores[order])
            out_p.append(pos[order])
        return out_s, out_p


def rank_keys(scores: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """int64 keys that order by score (descending), then storage position (ascending), with no
    ties: so ``topk`` on them is exact and deterministic, and cheaper than a stable sort.

    The fp32 bit pattern of a non-negative float orders like the float; a negative float with
    magnitude bits ``m`` maps to ``-m - 1``. The position fills the low 32 bits, inverted.
    """
    bits = (scores.float() + 0.0).view(torch.int32).long()  # + 0.0 turns -0.0 into 0.0
    ordered = torch.where(bits >= 0, bits, -(bits & 0x7FFFFFFF) - 1)
    return ordered * (1 << 32) + ((1 << 32) - 1 - positions)


def two_stage_recall(
    store: VectorStore,
    queries: VectorsLike,
    budget: BudgetLike | None = None,
    *,
    k: int = 10,
    rerank_from: int,
    first_stage: BudgetLike = (1, 1),
    filter: Filter | None = None,
) -> float:
    """Mean recall@k of two-stage search against exhaustive search at the same budget.

    For each query, the fraction of the exhaustive top-k page ids that two-stage search also
    returns; queries with no exhaustive hits count as fully recalled.
    """
    exact = store.search(queries, budget, k, filter)
    approx = store.search(queries, budget, k, filter, rerank_from=rerank_from, first_stage=first_stage)
    if getattr(queries, "ndim", None) == 2:  # one query: one list of hits
        exact, approx = [exact], [approx]
    recalls = []
    for e, a in zip(exact, approx, strict=True):
        truth = {h.page_id for h in e}  # type: ignore[union-attr]
        recalls.append(len(truth & {h.page_id for h in a}) / len(truth) if truth else 1.0)  # type: ignore[union-attr]
    return float(np.mean(recalls)) if recalls else 1.0
