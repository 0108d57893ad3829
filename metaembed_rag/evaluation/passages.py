"""Chunked single-vector retrieval: what a text-RAG user builds with all-MiniLM-L6-v2 today.

Each page's text is cut into overlapping passages of ``passage_tokens`` word pieces (the
tokenizer's pieces, no special tokens; consecutive passages share ``overlap`` pieces, and the last
one ends at the text's end). Each passage is encoded as ``[CLS] pieces [SEP]`` with the
sentence-transformers recipe of :class:`~.retrievers.MeanPooledEncoder` (mean pooling over the
attention mask, L2 normalisation), so a text of at most ``passage_tokens`` pieces gets exactly its
plain MiniLM vector. A page scores the best cosine of any of its passages
(:func:`max_passage_scores`). A page with no text gets one empty passage (``[CLS] [SEP]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .retrievers import MeanPooledEncoder

__all__ = ["PassageEncoder", "PassageVectors", "max_passage_scores", "passage_windows"]


def passage_windows(length: int, passage_tokens: int, overlap: int) -> list[tuple[int, int]]:
    """``(start, stop)`` word-piece spans covering ``length`` pieces: ``passage_tokens`` long, each
    starting ``passage_tokens - overlap`` after the previous one; one empty span for no pieces."""
    if passage_tokens < 1 or not 0 <= overlap < passage_tokens:
        raise ValueError(
            f"need passage_tokens >= 1 and 0 <= overlap < passage_tokens, got {passage_tokens} and {overlap}"
        )
    stride = passage_tokens - overlap
    starts = [0]
    while starts[-1] + passage_tokens < length:
        starts.append(starts[-1] + stride)
    return [(start, min(start + passage_tokens, length)) for start in starts]


@dataclass
class PassageVectors:
    """``vectors [P, D]`` of all passages and ``owners [P]``: the index of the text each came from."""

    vectors: torch.Tensor
    owners: torch.Tensor
    num_texts: int

    def mean_per_text(self) -> torch.Tensor:
        """``[num_texts, D]``: each text's passage vectors averaged and L2-normalised."""
        sums = torch.zeros(self.num_texts, self.vectors.shape[1], dtype=self.vectors.dtype)
        sums.index_add_(0, self.owners, self.vectors)
        return torch.nn.functional.normalize(sums, dim=-1)


def max_passage_scores(queries: torch.Tensor, passages: PassageVectors) -> torch.Tensor:
    """``[Q, num_texts]``: for each query ``[Q, D]`` and text, the best dot product with any of the
    text's passages (``-inf`` for a text with no passage)."""
    scores = queries.to(passages.vectors) @ passages.vectors.T
    out = torch.full(
        (queries.shape[0], passages.num_texts), float("-inf"), dtype=scores.dtype, device=scores.device
    )
    index = passages.owners.to(scores.device).expand_as(scores)
    return out.scatter_reduce_(1, index, scores, reduce="amax", include_self=True)


class PassageEncoder:
    """Passages of each text (module docstring) encoded with a :class:`MeanPooledEncoder`."""

    def __init__(self, encoder: MeanPooledEncoder, *, passage_tokens: int = 128, overlap: int = 32) -> None:
        passage_windows(0, passage_tokens, overlap)  # validates the sizes
        if passage_tokens + 2 > encoder.model.config.max_position_embeddings:
            raise ValueError(f"passage_tokens={passage_tokens} does not fit the backbone's positions")
        self.encoder = encoder
        self.passage_tokens = passage_tokens
        self.overlap = overlap

    def pieces(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word-piece ids, untruncated and without special tokens."""
        tokenizer = self.encoder.tokenizer
        verbose = tokenizer.verbose
        tokenizer.verbose = False  # no "longer than the maximum" warning: we cut the pieces ourselves
        try:
            return list(tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"])
        finally:
            tokenizer.verbose = verbose

    @torch.inference_mode()
    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress_bar: bool = False
    ) -> PassageVectors:
        """Every passage of every text, L2-normalised fp32 on CPU, in text order then passage order."""
        from tqdm.auto import tqdm

        tokenizer, model = self.encoder.tokenizer, self.encoder.model
        passages: list[list[int]] = []
        owners: list[int] = []
        for index, ids in enumerate(self.pieces(texts)):
            for start, stop in passage_windows(len(ids), self.passage_tokens, self.overlap):
                passages.append([tokenizer.cls_token_id, *ids[start:stop], tokenizer.sep_token_id])
                owners.append(index)
        device = next(model.parameters()).device
        order = sorted(range(len(passages)), key=lambda i: len(passages[i]))
        out = torch.empty(len(passages), self.encoder.dim)
        for start in tqdm(
            range(0, len(order), batch_size), desc="Encoding passages", disable=not show_progress_bar
        ):
            chunk = order[start : start + batch_size]
            width = max(len(passages[i]) for i in chunk)
            ids = torch.full((len(chunk), width), tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros(len(chunk), width, dtype=torch.long)
            for row, i in enumerate(chunk):
                ids[row, : len(passages[i])] = torch.tensor(passages[i])
                mask[row, : len(passages[i])] = 1
            hidden = model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                token_type_ids=torch.zeros_like(ids).to(device),
            ).last_hidden_state
            weights = mask.to(device).unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            out[chunk] = torch.nn.functional.normalize(pooled.float(), p=2, dim=-1).cpu()
        return PassageVectors(out, torch.tensor(owners, dtype=torch.long), len(texts))
