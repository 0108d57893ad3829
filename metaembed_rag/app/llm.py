"""The chat model: an ``init_chat_model`` string from ``--llm`` or the environment, and whether it
reads images.

``--llm openai:gpt-4o-mini``, ``--llm ollama:qwen2.5vl`` or any ``provider:model`` string that
LangChain's ``init_chat_model`` accepts (it needs the ``langchain`` package, in the ``[app]`` extra,
plus the provider's package: ``langchain-openai``, ``langchain-ollama``, ...). Without ``--llm``
the ``METAEMBED_RAG_LLM`` variable is read; with neither, the app runs in retrieval-only mode.

Vision or text. ``--vision``/``--no-vision`` decide. Otherwise the model's LangChain profile
decides where it has one (``profile["image_inputs"]``); otherwise the model name does: names with
a vision marker (``vl``, ``vision``, ``llava``, ``pixtral``, ``gpt-4o``, ``gpt-4.1``, ``gpt-5``,
``claude``, ``gemini``, ``gemma3``, ``minicpm-v``, ``moondream``) get page images, other models
get the pages' text layers.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["LLM_ENV", "load_chat_model", "reads_images"]

LLM_ENV = "METAEMBED_RAG_LLM"
_VISION_NAME = re.compile(
    r"(?:^|[^a-z])(?:vl|vision)|llava|pixtral|gpt-4o|gpt-4\.1|gpt-5|claude|gemini|gemma3|minicpm-v|moondream",
    re.IGNORECASE,
)


def load_chat_model(spec: str | None) -> BaseChatModel | None:
    """The chat model named by ``spec`` or, when it is None, by ``$METAEMBED_RAG_LLM``; None when
    neither is set (retrieval-only mode)."""
    spec = spec or os.environ.get(LLM_ENV) or None
    if spec is None:
        return None
    try:
        from langchain.chat_models import init_chat_model
    except ImportError as error:
        raise RuntimeError(
            f"--llm {spec} needs LangChain's init_chat_model: pip install 'metaembed-rag[app]' "
            f"(the langchain package) and the provider's package, e.g. langchain-openai ({error})"
        ) from None
    return init_chat_model(spec)


def model_name(llm: BaseChatModel) -> str:
    """The model's name as its integration records it (``model_name``, ``model`` or the class)."""
    for attribute in ("model_name", "model", "model_id"):
        value = getattr(llm, attribute, None)
        if isinstance(value, str) and value:
            return value
    return type(llm).__name__


def reads_images(llm: BaseChatModel, override: bool | None = None) -> bool:
    """Whether to send page images (True) or text layers (False) to ``llm``; see the module doc."""
    if override is not None:
        return override
    profile = getattr(llm, "profile", None) or {}
    if "image_inputs" in profile:
        return bool(profile["image_inputs"])
    return bool(_VISION_NAME.search(model_name(llm)))
