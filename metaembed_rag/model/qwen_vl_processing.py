"""Prompts, tokenisation and image preprocessing for Qwen2-VL / Qwen2.5-VL MetaEmbed inputs.

``QwenVLProcessor`` owns the tokenizer and the PIL image processor (the torchvision-based
processors and ``AutoProcessor`` are avoided on purpose: they pull in the video stack). It
turns ``EncoderInput`` items into one left-padded batch laid out as

    [pad ... pad; prompt tokens (image tokens expanded); num_meta placeholders]

with the MetaEmbed prompts of the official training code (see DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers.models.qwen2_vl import Qwen2VLImageProcessorPil

from .base import Batch, left_pad
from .inputs import EncoderInput

__all__ = ["DEFAULT_QUERY_SUFFIX", "IMAGE_PAD", "QwenVLProcessor"]

IMAGE_PAD = "<|image_pad|>"
VIDEO_PAD = "<|video_pad|>"
#: The official code appends ten end-of-text tokens and a newline to every query prompt.
DEFAULT_QUERY_SUFFIX = "<|endoftext|>" * 10 + "\n"
TEXT_TEMPLATE = "<|im_start|>user\n{body}<|im_end|><|endoftext|>"
IMAGE_TEMPLATE = "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>{body}<|im_end|><|endoftext|>"
IMAGE_ONLY_TEXT = "Describe the image."


class QwenVLProcessor:
    """Builds MetaEmbed batches for a Qwen-VL backbone.

    Args:
        tokenizer: the checkpoint's (fast) tokenizer; must know the Qwen special tokens.
        image_processor: a ``Qwen2VLImageProcessorPil``.
        max_length: most positions per row, meta placeholders included; text is truncated to fit.
        max_visual_tokens: cap on the visual tokens of one image (after the 2x2 merge); larger
            images are downscaled, keeping their aspect ratio.
        query_prefix / document_prefix: written before the text (or the fixed image sentence).
        query_suffix: appended after a query's prompt.
    """

    def __init__(
        self,
        tokenizer: Any,
        image_processor: Qwen2VLImageProcessorPil,
        *,
        max_length: int = 2048,
        max_visual_tokens: int = 1024,
        query_prefix: str = "Query: ",
        document_prefix: str = "",
        query_suffix: str = DEFAULT_QUERY_SUFFIX,
    ) -> None:
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        if max_visual_tokens < 1:
            raise ValueError(f"max_visual_tokens must be >= 1, got {max_visual_tokens}")
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.max_length = int(max_length)
        self.max_visual_tokens = int(max_visual_tokens)
        self.query_prefix = query_prefix
        self.document_prefix = document_prefix
        self.query_suffix = query_suffix
        self.image_token_id = self._token_id(IMAGE_PAD)
        self.pad_token_id = self._pad_id()
        self.merge_size = int(image_processor.merge_size)
        # The image processor caps pixels, not tokens: one merged token covers (patch*merge)^2 pixels.
        pixels_per_token = (int(image_processor.patch_size) * self.merge_size) ** 2
        longest = self.max_visual_tokens * pixels_per_token
        shortest = min(int(image_processor.size["shortest_edge"]), longest)
        self.image_size = {"longest_edge": longest, "shortest_edge": shortest}

    def _token_id(self, token: str) -> int:
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            raise ValueError(f"the tokenizer has no {token} token; is this a Qwen-VL tokenizer?")
        return int(token_id)

    def _pad_id(self) -> int:
        if self.tokenizer.pad_token_id is not None:
            return int(self.tokenizer.pad_token_id)
        return self._token_id("<|endoftext|>")

    def options(self) -> dict[str, Any]:
        return {
            "max_length": self.max_length,
            "max_visual_tokens": self.max_visual_tokens,
            "query_prefix": self.query_prefix,
            "document_prefix": self.document_prefix,
            "query_suffix": self.query_suffix,
        }

    # ------------------------------------------------------------------ prompts
    def prompt(self, item: EncoderInput, *, is_query: bool, text: str | None = None) -> str:
        """The prompt string of ``item`` with a single, unexpanded ``<|image_pad|>``.

        ``text`` overrides ``item.text`` (used to retry with truncated text).
        """
        text = item.text if text is None else text
        prefix = self.query_prefix if is_query else self.document_prefix
        suffix = self.query_suffix if is_query else ""
        if item.image is None:
            return TEXT_TEMPLATE.format(body=f"{prefix}{text}") + suffix
        body = f"{prefix}{IMAGE_ONLY_TEXT if text is None else text}"
        return IMAGE_TEMPLATE.format(body=body) + suffix

    def _encode(self, prompt: str) -> list[int]:
        return list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"])

    def _fit(self, item: EncoderInput, ids: list[int], room: int, is_query: bool, where: str) -> list[int]:
        """Shorten ``item.text`` until the prompt takes at most ``room`` tokens.

        The whole prompt is re-tokenised each time (rather than splicing token lists) so the
        tokens at the text's edges are those the untruncated prompt would have.
        """
        if len(ids) <= room:
            return ids
        if item.text is None:
            raise ValueError(
                f"{where}: the image's visual tokens, the prompt and the meta tokens do not fit in "
                f"max_length={self.max_length}; raise max_length or lower max_visual_tokens "
                f"(now {self.max_visual_tokens})"
            )
        encoded = self.tokenizer(item.text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        keep = max(0, len(offsets) - (len(ids) - room))
        while True:
            cut = offsets[keep - 1][1] if keep > 0 else 0
            ids = self._encode(self.prompt(item, is_query=is_query, text=item.text[:cut]))
            if len(ids) <= room or keep == 0:
                break
            keep = max(0, keep - max(1, len(ids) - room))
        if len(ids) > room:
            raise ValueError(
                f"{where}: the prompt template alone needs {len(ids)} positions but max_length="
                f"{self.max_length} leaves {room}; raise max_length"
            )
        return ids

    # ------------------------------------------------------------------ batches
    def _check(self, item: object, where: str) -> EncoderInput:
        if not isinstance(item, EncoderInput):
            raise TypeError(f"{where}: expected an EncoderInput, got {type(item).__name__}")
        # A literal pad token in user text would add image slots with no image features behind them.
        if item.text is not None and (IMAGE_PAD in item.text or VIDEO_PAD in item.text):
            raise ValueError(f"{where}: text contains the reserved token {IMAGE_PAD} or {VIDEO_PAD}")
        return item

    def images(self, images: Sequence[Any]) -> dict[str, torch.Tensor]:
        """``pixel_values`` (patches of all images, concatenated) and ``image_grid_thw`` per image."""
        features = self.image_processor(images=list(images), size=self.image_size, return_tensors="pt")
        return {"pixel_values": features["pixel_values"], "image_grid_thw": features["image_grid_thw"]}

    def __call__(self, inputs: Sequence[EncoderInput], *, is_query: bool, num_meta: int) -> Batch:
        """Tokenise, expand image tokens, truncate, append ``num_meta`` placeholders, left-pad.

        Returns ``input_ids``, ``attention_mask``, ``mm_token_type_ids`` (1 at image tokens) and,
        when any input has an image, ``pixel_values`` and ``image_grid_thw`` (one row per image,
        in input order).
        """
        if num_meta < 0:
            raise ValueError(f"num_meta must be >= 0, got {num_meta}")
        if not inputs:
            raise ValueError("inputs is empty")
        items = [self._check(item, f"input #{i}") for i, item in enumerate(inputs)]
        with_images = [item.image for item in items if item.image is not None]
        visual = self.images(with_images) if with_images else {}
        counts = iter(
            (visual["image_grid_thw"].prod(-1) // self.merge_size**2).tolist() if with_images else []
        )
        prompts = [self.prompt(item, is_query=is_query) for item in items]
        encoded = self.tokenizer(prompts, add_special_tokens=False)["input_ids"]
        rows: list[list[int]] = []
        for i, (item, ids) in enumerate(zip(items, encoded, strict=True)):
            n_image = next(counts) if item.image is not None else 0
            # The single <|image_pad|> becomes n_image tokens; the rest must fit what is left.
            room = self.max_length - num_meta - max(n_image - 1, 0)
            ids = self._fit(item, list(ids), room, is_query, f"input #{i}")
            if n_image:
                at = ids.index(self.image_token_id)
                ids = ids[:at] + [self.image_token_id] * n_image + ids[at + 1 :]
            rows.append(ids + [self.pad_token_id] * num_meta)
        input_ids, attention_mask = left_pad(rows, self.pad_token_id)
        mm_token_type_ids = (input_ids == self.image_token_id).to(torch.int32)
        batch = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "mm_token_type_ids": mm_token_type_ids,
        }
        return {**batch, **visual}

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> None:
        """Write the tokenizer and image processor files into ``directory``."""
        self.tokenizer.save_pretrained(str(directory))
        self.image_processor.save_pretrained(str(directory))

    @classmethod
    def load(cls, directory: str | Path, **options: Any) -> QwenVLProcessor:
        """Read the tokenizer and image processor a checkpoint (or ``save``) left in ``directory``."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(directory))
        image_processor = Qwen2VLImageProcessorPil.from_pretrained(str(directory))
        return cls(tokenizer, image_processor, **options)
