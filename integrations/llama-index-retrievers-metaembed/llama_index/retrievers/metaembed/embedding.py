"""``MetaEmbedEmbedding``: MetaEmbed's single-vector (1, 1) view for LlamaIndex vector stores."""

from __future__ import annotations

import asyncio
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.embeddings import MultiModalEmbedding
from PIL import Image

from metaembed_rag.retriever import load_shared_model

if TYPE_CHECKING:
    from metaembed_rag.model import MetaEmbed

__all__ = ["MetaEmbedEmbedding"]

_ONE = (1, 1)


class MetaEmbedEmbedding(MultiModalEmbedding):
    """MetaEmbed as one flat vector per text or image: the **first** query meta-token vector for a
    query, the **first** candidate vector for a document (budget (1, 1)), L2-normalised.

    This gives up multi-vector scoring. MetaEmbed ranks by MaxSim over up to 16 × 64 vectors; one
    vector per side is its cheapest and least accurate point, so an ordinary LlamaIndex vector
    store can hold it. For the budgets above (1, 1) use :class:`MetaEmbedRetriever` over a
    metaembed-rag index instead, or :class:`MetaEmbedReranker` on a vector store's results.
    """

    model_name: str = Field(default="metaembed-minilm", description="A bundled model name or model folder.")
    _model: MetaEmbed = PrivateAttr()

    def __init__(self, model_name: str | None = None, *, model: MetaEmbed | None = None,
                 embed_batch_size: int = 16, **kwargs: Any) -> None:
        """``model_name`` is a bundled model or model folder (default: the bundled default model,
        loaded once per process); ``model`` an already loaded ``MetaEmbed``."""
        loaded = model if model is not None else load_shared_model(model_name)
        super().__init__(model_name=model_name or loaded.config.name, embed_batch_size=embed_batch_size,
                         **kwargs)
        self._model = loaded

    @classmethod
    def class_name(cls) -> str:
        return "MetaEmbedEmbedding"

    # -- text ----------------------------------------------------------------------------------
    def _get_query_embedding(self, query: str) -> list[float]:
        return self._model.encode_queries([query], budget=_ONE)[0, 0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        vectors = self._model.encode_documents(list(texts), budget=_ONE, batch_size=self.embed_batch_size)
        return [v[0].tolist() for v in vectors]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return await asyncio.to_thread(self._get_text_embedding, text)

    # -- images --------------------------------------------------------------------------------
    def _get_image_embedding(self, img_file_path: str | BytesIO) -> list[float]:
        return self._get_image_embeddings([img_file_path])[0]

    def _get_image_embeddings(self, img_file_paths: list[str | BytesIO]) -> list[list[float]]:
        if not self._model.adapter.reads_images:
            raise ValueError(
                f"the model {self._model.config.name!r} ({self._model.config.family}) reads text only, so it "
                "cannot embed images; image embeddings need a vision-language model (Qwen2-VL, Qwen2.5-VL)"
            )
        images = [_open(p) for p in img_file_paths]
        vectors = self._model.encode_documents(images, budget=_ONE, batch_size=self.embed_batch_size)
        return [v[0].tolist() for v in vectors]

    async def _aget_image_embedding(self, img_file_path: str | BytesIO) -> list[float]:
        return await asyncio.to_thread(self._get_image_embedding, img_file_path)


def _open(source: str | BytesIO) -> Image.Image:
    if isinstance(source, str) and not Path(source).is_file():
        raise FileNotFoundError(f"image {source} does not exist")
    with Image.open(source) as image:
        return image.convert("RGB")
