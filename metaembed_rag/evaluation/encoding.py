"""Encoding a dataset once with MetaEmbed, at the full budget, optionally cached on disk.

Every budget of a sweep is scored from these full embeddings by prefix slicing, so the corpus is
encoded exactly once per model. The cache file is keyed by the model (its fingerprint and config)
and the dataset content hash (:meth:`RetrievalDataset.content_hash`), so evaluating several models
on one dev set, or re-running one, re-encodes nothing that is already known.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from .dataset import RetrievalDataset

__all__ = ["cache_key", "encode_corpus", "encode_queries", "reads_images"]

_CHUNK = 512  # corpus items resolved (images rendered) per encode call: bounds memory


def reads_images(model: Any) -> bool:
    """Whether the model reads page images (vision-language) rather than text (BERT family)."""
    return model.config.family != "bert"


def _model_key(model: Any) -> dict[str, Any]:
    config = model.config
    settings = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else vars(config)
    # The fingerprint hashes the meta embeddings only; the projection and LoRA weights are small,
    # so hash them too: two checkpoints that differ only there must not share cached vectors.
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name.startswith("projection.") or "lora_" in name:
            digest.update(name.encode())
            digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return {"fingerprint": model.fingerprint(), "config": settings, "weights": digest.hexdigest()[:16]}


def cache_key(model: Any, dataset: RetrievalDataset) -> str:
    """Hex key of the corpus vectors of ``dataset`` under ``model``."""
    blob = json.dumps(
        {"model": _model_key(model), "corpus": dataset.content_hash(), "images": reads_images(model)},
        sort_keys=True, default=str,
    )  # fmt: skip
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _load_cached(path: Path, doc_ids: list[str]) -> torch.Tensor | None:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            stored_ids = json.loads(handle.metadata()["doc_ids"])
            vectors = handle.get_tensor("vectors")
    except (OSError, KeyError, ValueError, RuntimeError):
        return None  # unreadable or from another version: encode again and overwrite
    return vectors if stored_ids == doc_ids else None


def _save_cached(path: Path, vectors: torch.Tensor, doc_ids: list[str], meta: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    info = {"doc_ids": json.dumps(doc_ids), "model": json.dumps(meta, default=str)}
    save_file({"vectors": vectors.contiguous()}, str(partial), metadata=info)
    partial.replace(path)  # atomic: a killed run never leaves a truncated cache entry


def encode_corpus(
    model: Any,
    dataset: RetrievalDataset,
    *,
    batch_size: int = 8,
    device: str | torch.device | None = None,
    cache_dir: str | Path | None = None,
    show_progress_bar: bool = True,
) -> torch.Tensor:
    """Full-budget corpus vectors ``[N, R_c, D]`` (fp32, CPU) in ``dataset.doc_ids`` order.

    With ``cache_dir`` they are read from, or written to, ``<cache_dir>/<cache_key>.safetensors``.
    """
    doc_ids = dataset.doc_ids
    path = Path(cache_dir) / f"corpus-{cache_key(model, dataset)}.safetensors" if cache_dir else None
    if path is not None and path.is_file():
        cached = _load_cached(path, doc_ids)
        if cached is not None:
            return cached
    from tqdm.auto import tqdm

    images = reads_images(model)
    parts = []
    with tqdm(total=len(doc_ids), desc="Encoding corpus", unit="doc", disable=not show_progress_bar) as bar:
        for start in range(0, len(doc_ids), _CHUNK):
            chunk = doc_ids[start : start + _CHUNK]
            inputs = dataset.document_inputs(chunk, images=images)
            parts.append(
                model.encode_documents(inputs, batch_size=batch_size, device=device, show_progress_bar=False)
            )
            bar.update(len(chunk))
    vectors = torch.cat(parts)
    if path is not None:
        _save_cached(path, vectors, doc_ids, _model_key(model))
    return vectors


def encode_queries(
    model: Any,
    dataset: RetrievalDataset,
    *,
    batch_size: int = 32,
    device: str | torch.device | None = None,
    show_progress_bar: bool = True,
) -> torch.Tensor:
    """Full-budget query vectors ``[Q, R_q, D]`` (fp32, CPU) in ``dataset.query_ids`` order."""
    texts = [dataset.queries[q] for q in dataset.query_ids]
    return model.encode_queries(
        texts, batch_size=batch_size, device=device, show_progress_bar=show_progress_bar
    )
