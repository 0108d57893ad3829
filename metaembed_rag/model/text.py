"""BERT-family text backbones (all-MiniLM-L6-v2 by default), reading a page's text layer.

BERT attends bidirectionally, so every input carries all of its meta placeholders (M_q and M_c,
or with ``meta_layout="split"`` only M_q for queries and M_c for documents) and budgets are
applied by slicing. Absolute position embeddings are computed from the
attention mask so a left-padded row gets the same positions as the same row alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from transformers import AutoModel, AutoTokenizer

from .base import BackboneAdapter, Batch, left_pad
from .inputs import EncoderInput
from .sources import load_weights, quiet_transformers, resolve_backbone

__all__ = ["TextAdapter"]


class TextAdapter(BackboneAdapter):
    family: ClassVar[str] = "bert"
    is_causal: ClassVar[bool] = False
    reads_images: ClassVar[bool] = False
    lora_target_modules: ClassVar[list[str] | str] = ["query", "key", "value", "dense"]

    def __init__(self, backbone: Any, tokenizer: Any, *, query_prefix: str = "Query: ",
                 max_length: int | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.tokenizer = tokenizer
        self.query_prefix = query_prefix
        limit = int(backbone.config.max_position_embeddings)
        self.max_length = min(max_length or limit, limit)

    @property
    def hidden_size(self) -> int:
        return int(self.backbone.config.hidden_size)

    def options(self) -> dict[str, Any]:
        return {"query_prefix": self.query_prefix, "max_length": self.max_length}

    def _token_ids(self, item: EncoderInput, is_query: bool, budget: int) -> list[int]:
        if item.text is None:
            raise ValueError(
                "the text backbone reads text, but this input is an image only; pass the page's "
                "text layer (Page.text) or use a vision-language backbone such as Qwen2.5-VL"
            )
        text = f"{self.query_prefix}{item.text}" if is_query else item.text
        # Truncation keeps [CLS] ... [SEP] and leaves room for the meta tokens.
        return self.tokenizer(text, truncation=True, max_length=budget)["input_ids"]

    def windows(self, item: EncoderInput, *, num_meta: int, max_windows: int) -> list[EncoderInput]:
        """Overlapping token windows of a long text, each short enough to keep after truncation."""
        if item.text is None or max_windows <= 1:
            return [item]
        size = self.max_length - num_meta - 2  # [CLS] and [SEP]
        offsets = self.tokenizer(  # the whole text, on purpose: no over-length warning
            item.text, add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )["offset_mapping"]
        if len(offsets) <= size:
            return [item]
        stride = size - size // 8  # a heading cut by one window boundary is whole in the next

        def word_start(i: int) -> int:  # never cut a word in two: back up to its first piece
            while 0 < i < len(offsets) and offsets[i][0] == offsets[i - 1][1]:
                i -= 1
            return i

        pieces, start = [], 0
        while len(pieces) < max_windows:
            end = min(start + size, len(offsets))
            end = end if end == len(offsets) else max(word_start(end), start + 1)
            pieces.append(EncoderInput(text=item.text[offsets[start][0] : offsets[end - 1][1]]))
            if end == len(offsets):
                break
            start = max(word_start(start + stride), start + 1)
        return pieces

    def prepare(self, inputs: Sequence[EncoderInput], *, is_query: bool, num_meta: int) -> Batch:
        budget = self.max_length - num_meta
        if budget < 2:
            raise ValueError(f"{num_meta} meta tokens leave no room for text in {self.max_length} positions")
        pad_id = int(self.tokenizer.pad_token_id)
        rows = [self._token_ids(item, is_query, budget) + [pad_id] * num_meta for item in inputs]
        input_ids, attention_mask = left_pad(rows, pad_id)
        position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
        return {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}

    def forward(self, batch: Batch, inputs_embeds: torch.Tensor) -> torch.Tensor:
        out = self.backbone(
            inputs_embeds=inputs_embeds,
            attention_mask=batch["attention_mask"],
            position_ids=batch["position_ids"],
            token_type_ids=torch.zeros_like(batch["input_ids"]),
        )
        return out.last_hidden_state

    def save(self, directory: Path, *, weights: bool) -> None:
        self.tokenizer.save_pretrained(directory)
        if weights:
            self.backbone.save_pretrained(directory / "backbone")

    @classmethod
    def load(
        cls,
        source: str | Path,
        *,
        dtype: torch.dtype | None = None,
        processor_dir: str | Path | None = None,
        **options: Any,
    ) -> TextAdapter:
        folder = resolve_backbone(source)
        backbone = load_weights(AutoModel, folder, dtype=dtype or torch.float32, add_pooling_layer=False)
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(processor_dir or folder)
        return cls(backbone, tokenizer, **options)
