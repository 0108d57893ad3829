"""Retrieved pages as LlamaIndex nodes: one ``ImageNode`` per page, its id the page id."""

from __future__ import annotations

import os
from hashlib import sha256
from typing import Any

from llama_index.core.base.llms.types import BaseContentBlock, ImageBlock, TextBlock
from llama_index.core.schema import ImageNode, MetadataMode, NodeWithScore

from metaembed_rag.retriever import RetrievedPage

__all__ = ["PageNode", "page_metadata", "to_node_with_score"]

#: Metadata keys a language model sees in the prompt (with the text): where the page is from.
LLM_METADATA_KEYS = ("citation",)


class PageNode(ImageNode):
    """An ``ImageNode`` for one stored page: ``text`` is the text layer, ``image_path`` the stored
    page image, ``id_`` the page id.

    For a multimodal LLM its content blocks are the page image, then the citation and text layer.
    Its ``hash`` also covers the page id: a stock ``ImageNode`` hashes only its text and image, so
    two identical pages of two files (same text, same content-addressed image) would collapse into
    one in ``QueryFusionRetriever`` and other hash-deduplicating components.
    """

    @property
    def hash(self) -> str:
        return sha256(f"{self.id_}\x00{super().hash}".encode("utf-8", "surrogatepass")).hexdigest()

    def get_content_blocks(self, metadata_mode: MetadataMode = MetadataMode.NONE) -> list[BaseContentBlock]:
        """The page image, then one text block with the citation and the text layer. A stock
        ``ImageNode`` sends a multimodal LLM only its metadata and image, so the page's text would
        never reach it; and its metadata block comes before the image, where the synthesizer's
        packing may cut it off into the previous call."""
        text = TextBlock(text=self.get_content(metadata_mode))
        if self.image is None and self.image_path is None and self.image_url is None:
            return [text]  # an index kept without page images
        images = [b for b in super().get_content_blocks(metadata_mode) if isinstance(b, ImageBlock)]
        return [*images, text]


def page_metadata(page: RetrievedPage) -> dict[str, Any]:
    """The node metadata of ``page``: the stored fields (less the text, which is the node's text)
    plus ``source``, ``page``, ``page_id``, ``score`` (MaxSim sum, or the fused score of a hybrid
    search), ``normalized_score`` (MaxSim ÷ r_q), ``budget`` ([r_q, r_c]), ``image_path``
    (absolute, so the node stays usable from another working directory) and ``citation``
    ("report.pdf p.3")."""
    stored = {k: v for k, v in page.metadata.items() if k != "text"}
    return stored | {
        "source": page.source,
        "page": page.page,
        "page_id": page.page_id,
        "score": page.score,
        "normalized_score": page.normalized_score,
        "budget": [page.budget.r_q, page.budget.r_c],
        "image_path": None if page.image_path is None else os.path.abspath(page.image_path),
        "citation": page.citation,
    }


def node_score(page: RetrievedPage) -> float:
    """What ``NodeWithScore.score`` carries: the normalised MaxSim score (÷ r_q, in [-1, 1] at
    every budget) for a dense search; for a hybrid search, the fused score that ranked the page (a
    page that only BM25 found has no MaxSim score)."""
    if page.metadata.get("hybrid") is not None or page.normalized_score is None:
        return page.score
    return page.normalized_score


def to_node_with_score(page: RetrievedPage) -> NodeWithScore:
    metadata = page_metadata(page)
    hidden = [k for k in metadata if k not in LLM_METADATA_KEYS]
    node = PageNode(
        id_=page.page_id,
        text=page.text,
        image_path=metadata["image_path"],
        metadata=metadata,
        excluded_llm_metadata_keys=hidden,
        excluded_embed_metadata_keys=list(metadata),
    )
    return NodeWithScore(node=node, score=node_score(page))
