"""The small interface between MetaEmbed and a transformer backbone.

An adapter owns everything family-specific: prompt templates, tokenisation, truncation,
image preprocessing and the backbone's forward call. MetaEmbed owns the meta tokens, the
projection and normalisation. Every adapter lays a batch out the same way:

    [pad ... pad; tokens; M_q; M_c]     (left padding, meta placeholders last)

so the meta positions are always the final ``num_meta`` positions of every row.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from .inputs import EncoderInput

__all__ = ["BackboneAdapter", "Batch", "left_pad"]

Batch = dict[str, torch.Tensor]


class BackboneAdapter(nn.Module, ABC):
    """Wraps one backbone family. ``self.backbone`` is the Hugging Face model (maybe PEFT-wrapped)."""

    family: ClassVar[str]
    #: Causal backbones let a query skip the M_c placeholders: they cannot influence M_q.
    is_causal: ClassVar[bool]
    #: Whether the backbone reads page images (data loaders skip decoding them when it does not).
    reads_images: ClassVar[bool]

    backbone: nn.Module

    @property
    @abstractmethod
    def hidden_size(self) -> int: ...

    @abstractmethod
    def prepare(self, inputs: Sequence[EncoderInput], *, is_query: bool, num_meta: int) -> Batch:
        """Tokenise ``inputs`` with the family's prompt, append ``num_meta`` placeholder tokens and
        left-pad. Returns CPU tensors: ``input_ids`` and ``attention_mask`` ``[B, L]`` plus whatever
        else the backbone's forward needs (pixel values, position ids, ...)."""

    @abstractmethod
    def forward(self, batch: Batch, inputs_embeds: torch.Tensor) -> torch.Tensor:
        """Last-layer hidden states ``[B, L, H]``, reading ``inputs_embeds`` in place of the
        token embeddings of ``batch['input_ids']``."""

    def input_embeddings(self) -> nn.Module:
        return self.backbone.get_input_embeddings()

    def gradient_checkpointing_enable(self) -> None:
        """Recompute the backbone's layer activations in the backward pass instead of storing them.

        Non-reentrant checkpointing: the reentrant variant only back-propagates into inputs that
        require grad at the checkpoint boundary, which would cut the meta embeddings off from
        their gradient whenever the token embeddings are frozen.
        """
        # PeftModel forwards the call to the wrapped Hugging Face model; transformers 5.x renamed it.
        kwargs = {"use_reentrant": False}
        if hasattr(self.backbone, "activation_checkpointing_enable"):
            self.backbone.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            self.backbone.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)

    def windows(self, item: EncoderInput, *, num_meta: int, max_windows: int) -> list[EncoderInput]:
        """Split a document that ``prepare`` would truncate into at most ``max_windows`` pieces.

        The default keeps the item whole: image backbones already cap their visual tokens.
        """
        return [item]

    @abstractmethod
    def options(self) -> dict[str, Any]:
        """JSON-serialisable settings that ``load`` takes back (max lengths, visual-token caps)."""

    @classmethod
    def option_names(cls) -> set[str]:
        """Names ``load`` accepts as options: by default the keyword-only arguments of ``__init__``."""
        parameters = inspect.signature(cls.__init__).parameters.values()
        return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}

    @abstractmethod
    def save(self, directory: Path, *, weights: bool) -> None:
        """Save the tokenizer/processor to ``directory``, and the backbone weights if ``weights``."""

    #: Module-name patterns LoRA wraps by default (PEFT ``target_modules``).
    lora_target_modules: ClassVar[list[str] | str]

    @classmethod
    @abstractmethod
    def load(
        cls,
        source: str | Path,
        *,
        dtype: torch.dtype | None = None,
        processor_dir: str | Path | None = None,
        **options: Any,
    ) -> BackboneAdapter:
        """Load the backbone from ``source`` (a folder, or a reference ``resolve_backbone`` knows) and
        the tokenizer/processor from ``processor_dir`` (where ``save`` put it; default ``source``)."""


def left_pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad token id rows into ``(input_ids, attention_mask)``; content stays right-aligned."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if row:
            ids[i, width - len(row) :] = torch.as_tensor(row, dtype=torch.long)
            mask[i, width - len(row) :] = 1
    return ids, mask
